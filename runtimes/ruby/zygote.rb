# frozen_string_literal: true

# kindling's Ruby runtime zygote (fast start). Standard library only (fiddle, socket, json),
# Ruby 3.1 (MRI, Linux).
#
# What and why: a cold start normally execs `ruby --disable-gems bootstrap.rb`, which boots the
# VM and loads the runtime (~40 ms here before any user code). The zygote does that once per
# runtime: it loads bootstrap.rb WITHOUT running its main loop, runs NO user code, and waits on
# fd 3 (a SOCK_SEQPACKET socket to kindling's spawner) for "fork a stub" requests ('P' + the
# stub's six fds). libkindling_zygote.so (Fiddle) clones the stub as a child of the daemon in a
# new PID namespace; later, on its environment's spawn request, the stub builds the sandbox with
# kindling's own C++ facet code and forks the runtime, which returns here and runs the runtime's
# main loop: the handler's require (the function's init) happens there, inside the sandbox.
#
# The fork is not Ruby's own (Process.fork), so the child does what Ruby's fork does for its
# child itself (AfterFork): MRI 3.1 keeps per-process state that a fork must renew: the signal
# self-pipes (two eventfds; the stub closed them), the SIGVTALRM POSIX timer of its unblocking
# function (timers are not inherited), the pid that owns both, and the thread list and random
# seed (rb_thread_atfork). MRI exports no function for the first three; it renews them in
# after_exec(), which a failed Process.exec runs. The zygote checks at start that the VM state
# it relies on is what it expects (exactly one SIGVTALRM timer whose sigev_value points at
# MRI's timer_posix {state, owner, timerid}, two eventfds) and refuses to serve otherwise, so
# the engine execs that runtime's environments instead of forking from a VM it cannot renew.
#
# The zygote is single-threaded (MRI 3.1 on Linux starts no timer thread: POSIX timer +
# eventfds); kd_zygote_fork refuses to fork otherwise (/proc/self/task).
# Launch (by the spawner): <ruby> --disable-gems zygote.rb, fd 3 = control socket,
# KINDLING_ZYGOTE_LIB=<libkindling_zygote.so>, KINDLING_ZYGOTE_LANG_DIR = the host directory
# the environments see as /var/lang (a Ruby build outside /usr; empty for /usr/bin/ruby3.1).

require 'fiddle'
require 'socket'
require_relative 'bootstrap' # defines KindlingRuntime; its main loop runs only as a script

# The zygote's serving loop and the forked runtime's set-up (the Ruby twin of zygote.py).
# Single-threaded by construction; nothing here is thread-safe.
module KindlingZygote
  CONTROL_FD = 3
  REPLY = 'l<l<l<' # spawner/protocol.h ZygoteReply {pid, err, threads}
  EINVAL = 22
  # The zygote's own variables, read before an environment replaces ENV.
  ZYGOTE_ENV = ENV.to_h.freeze
  # This directory (the runtime's) as the zygote sees it: the host's.
  RUNTIME_HOST_DIR = File.expand_path(__dir__).freeze

  # What Ruby's Process.fork does in the child, for a fork made by kd_zygote_fork (see the file
  # comment). Layout constants: MRI 3.1 thread_pthread.c (UBF_TIMER_POSIX, USE_EVENTFD).
  module AfterFork
    SIGVTALRM = 26
    RTIMER_DISARM = 0
    RTIMER_DEAD = 3
    # A path whose execve fails at once (ENOTDIR) without touching anything but /dev/null.
    NO_SUCH_PROGRAM = '/dev/null/kindling-after-fork'

    module_function

    # In the zygote, before serving: finds and checks the VM state the child renews; returns
    # nil, or why forks of this VM cannot be renewed.
    def prepare(libruby_path)
      libc = Fiddle::Handle::DEFAULT
      @close = Fiddle::Function.new(libc['close'], [Fiddle::TYPE_INT], Fiddle::TYPE_INT,
                                    need_gvl: true)
      @atfork = Fiddle::Function.new(Fiddle::Handle.new(libruby_path)['rb_thread_atfork'], [],
                                     Fiddle::TYPE_VOID, need_gvl: true)
      timers = File.read('/proc/self/timers').scan(/^ID: (\d+)\nsignal: (\d+)\/([0-9a-f]+)\n/)
      unless timers.size == 1 && timers[0][1].to_i == SIGVTALRM
        return "expected one SIGVTALRM timer (MRI's), /proc/self/timers has #{timers.inspect}"
      end

      id = timers[0][0].to_i
      @timer = Fiddle::Pointer.new(timers[0][2].to_i(16))
      state, owner, timerid = @timer[0, 16].unpack('L<l<Q<')
      unless state == RTIMER_DISARM && owner == Process.pid && timerid == id
        return "MRI's timer_posix is not {#{RTIMER_DISARM}, #{Process.pid}, #{id}} but " \
               "{#{state}, #{owner}, #{timerid}}"
      end

      @self_pipes = Dir.children('/proc/self/fd').map(&:to_i).select do |fd|
        fd > CONTROL_FD && (File.readlink("/proc/self/fd/#{fd}") rescue nil) == 'anon_inode:[eventfd]'
      end.sort
      return "expected MRI's two eventfds, found #{@self_pipes.inspect}" unless @self_pipes.size == 2

      nil
    rescue StandardError, Fiddle::DLError => e
      "#{e.class}: #{e.message}"
    end

    # In the forked runtime, first thing: renews the signal self-pipes, the timer and their
    # owner pid (after_exec), then the thread list and random seed (rb_thread_atfork).
    def child!
      # after_exec closes the old self-pipes before making new ones, and treats a failing close
      # as a VM bug: the stub closed them, so something must be open at their numbers.
      opened = []
      opened << IO.sysopen('/dev/null') until (@self_pipes - opened).empty?
      (opened - @self_pipes).each { |fd| @close.call(fd) }
      # ubf_timer_create expects a dead timer (the parent's before_exec would have killed it;
      # here it belongs to the zygote, whose pid is not ours, so it is left alone).
      @timer[0, 4] = [RTIMER_DEAD].pack('L<')
      begin
        Process.exec(NO_SUCH_PROGRAM)
      rescue SystemCallError
        nil # expected: after_exec ran
      end
      @atfork.call
    end
  end

  module_function

  def function(lib, name, args, ret)
    Fiddle::Function.new(lib[name], args, ret, need_gvl: true)
  end

  # Forks stubs until one of them returns here as an environment's runtime; returns the argv
  # its main loop gets then. Returns nil when the zygote cannot serve; exits when the spawner
  # closes the socket.
  def serve
    lib = Fiddle.dlopen(ZYGOTE_ENV.fetch('KINDLING_ZYGOTE_LIB'))
    zygote_init = function(lib, 'kd_zygote_init', [], Fiddle::TYPE_INT)
    threads = function(lib, 'kd_zygote_threads', [], Fiddle::TYPE_INT)
    zygote_fork = function(lib, 'kd_zygote_fork',
                           [Fiddle::TYPE_VOIDP, Fiddle::TYPE_SIZE_T, Fiddle::TYPE_VOIDP,
                            Fiddle::TYPE_INT], Fiddle::TYPE_LONG)
    field = function(lib, 'kd_zygote_field', [Fiddle::TYPE_INT, Fiddle::TYPE_INT],
                     Fiddle::TYPE_VOIDP)
    libc_close = function(Fiddle::Handle::DEFAULT, 'close', [Fiddle::TYPE_INT], Fiddle::TYPE_INT)
    err = zygote_init.call
    if err != 0
      warn "kindling zygote: seccomp program: #{SystemCallError.new(nil, err).message}"
      return nil
    end
    libruby = File.readlines('/proc/self/maps', chomp: true)
                  .map { |line| line.split(' ', 6)[5] }
                  .find { |path| path&.include?('/libruby') }
    why = libruby ? AfterFork.prepare(libruby) : 'libruby is not in /proc/self/maps (static ruby)'
    if why
      warn "kindling zygote: cannot renew a fork of this Ruby VM: #{why}"
      return nil
    end
    # Collect and compact once, before any fork (~10 ms, once): the forks inherit a denser heap
    # with no garbage of the zygote's start to collect (and so copy) themselves.
    GC.start
    GC.compact
    control = Socket.for_fd(CONTROL_FD)
    control.autoclose = false # fd 3 is the stub's to close, never a finalizer's
    control.sendmsg('R')
    loop do
      message, _, _, *controls = control.recvmsg(1 << 16, 0, 512, scm_rights: true)
      exit!(0) if message.nil? || message.empty?
      ios = controls.flat_map { |c| c.cmsg_is?(:SOCKET, :RIGHTS) ? c.unix_rights : [] }
      # The IO objects never close their fds (a finalizer in a fork would close whatever
      # then has that number): the zygote closes them itself, by number, after the fork.
      ios.each { |io| io.autoclose = false }
      fds = ios.map(&:fileno)
      unless message.start_with?('P') && fds.size == 6
        fds.each { |fd| libc_close.call(fd) }
        control.sendmsg([-1, EINVAL, 0].pack(REPLY))
        next
      end
      count = threads.call
      body = message.byteslice(1, message.bytesize - 1)
      $stdout.flush
      $stderr.flush
      pid = zygote_fork.call(body, body.bytesize, fds.pack('i*'), fds.size)
      return become_environment(field) if pid.zero?

      fds.each { |fd| libc_close.call(fd) }
      reply = pid.negative? ? [-1, -pid, count] : [pid, 0, count]
      control.sendmsg(reply.pack(REPLY))
    end
  end

  # The strings of one kind of the runtime's SpawnRequest (0: env, 1: argv).
  def fields(field, kind)
    out = []
    loop do
      value = field.call(kind, out.size)
      return out if value.null?

      out << value.to_s
    end
  end

  # In the forked runtime (sandboxed already): renews the VM's per-process state, takes the
  # environment's variables, load path, program name and randomness; returns the runtime's
  # ARGV.
  def become_environment(field)
    AfterFork.child!
    env = {}
    fields(field, 0).each do |entry|
      key, _, value = entry.partition('=')
      env[key] = value
    end
    # Wholesale, not merged: nothing of the zygote's environment stays.
    ENV.replace(env)
    # Host paths of the zygote -> the environment's view: a Ruby outside /usr is mounted at
    # /var/lang, this directory at LAMBDA_RUNTIME_DIR.
    runtime_dir = env.fetch('LAMBDA_RUNTIME_DIR', '/var/runtime')
    remaps = [[RUNTIME_HOST_DIR, runtime_dir]]
    lang_dir = ZYGOTE_ENV.fetch('KINDLING_ZYGOTE_LANG_DIR', '').chomp('/')
    remaps << [lang_dir, '/var/lang'] unless lang_dir.empty?
    remaps.reject! { |host, inside| host == inside }
    remap = lambda do |path|
      remaps.each do |host, inside|
        return inside + path[host.size..] if path == host || path.start_with?("#{host}/")
      end
      path
    end
    # $LOAD_PATH as an exec'd interpreter builds it: RUBYLIB's entries (verbatim, empty ones
    # dropped), then the interpreter's own directories (the zygote started without RUBYLIB).
    rubylib = env.fetch('RUBYLIB', '').split(File::PATH_SEPARATOR).reject(&:empty?)
    $LOAD_PATH.replace(rubylib + $LOAD_PATH.map { |p| remap.call(p) })
    # Loaded features too, or a `require` of the same file under its environment path would
    # load it a second time.
    $LOADED_FEATURES.map! { |p| remap.call(p) } unless remaps.empty?
    # Uniqueness: rb_thread_atfork reset the default generator's seed; once more explicitly
    # (SecureRandom and Random.urandom read the kernel).
    Random.srand
    # $0 and ARGV as `ruby --disable-gems /var/runtime/bootstrap.rb [args]` has them.
    argv = fields(field, 1)
    script = argv.index { |a| a.end_with?('/bootstrap.rb') }
    $PROGRAM_NAME = script ? argv[script] : File.join(runtime_dir, 'bootstrap.rb')
    ARGV.replace(script ? argv[(script + 1)..] : [])
    ARGV
  end
end

if $PROGRAM_NAME == __FILE__
  argv = KindlingZygote.serve
  exit(1) if argv.nil?
  exit(KindlingRuntime.main(argv))
end
