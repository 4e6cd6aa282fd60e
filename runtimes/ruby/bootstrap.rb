# frozen_string_literal: true

# kindling's Ruby runtime: runs AWS-style Ruby handlers against the Lambda Runtime API
# (2018-06-01) of the environment it was started in.
#
# What and why:
# - Standard library only (socket, json). Start-up matters most: the engine starts Ruby with
#   --disable-gems (RubyGems alone is ~45 ms of a ~70 ms start on these machines); RubyGems is
#   loaded at init when the function brings gems (vendor/bundle, a Gemfile, /opt/ruby/gems,
#   GEM_PATH/GEM_HOME/BUNDLE_GEMFILE) and otherwise on the first `require` that fails without it.
# - The Runtime API is spoken over one keep-alive TCP connection by a small HTTP/1.1 client:
#   net/http costs ~7 ms of requires and an object graph per request for nothing needed here.
# - Behaviour copies AWS's Ruby runtime where users can observe it: handlers `file.method` and
#   `file.Module::Class.method`, called with `event:` and `context:` keyword arguments; the
#   context object's readers; `to_json` marshalling (an IO/StringIO result is sent raw as
#   application/unknown); errors as {"errorMessage","errorType","stackTrace"} with errorType
#   `Function<Class>` (handler) or `Init<Class>` (loading the handler file), the stack trace cut
#   at the runtime's own frames, the error printed to stdout as pretty JSON; NoMethodError,
#   NameError and non-StandardError exceptions from the handler end the process after the
#   error is posted, as AWS's runtime does.
# - $stdout/$stderr are synchronous so `puts` output reaches the engine's log pipe before the
#   response is posted.
#
# Threading: the runtime is single-threaded; handlers may start threads, which must not call
# into the runtime client.

require 'socket'
require 'json'

$stdout.sync = true
$stderr.sync = true

module KindlingRuntime
  API_PREFIX = '/2018-06-01/runtime/'
  RUNTIME_FILE = File.expand_path(__FILE__)
  # Error classes reported under their own name in Lambda-Runtime-Function-Error-Type; any
  # other class is reported there as Function<UserException> (the body keeps the real name).
  ALLOWED_ERROR_CLASSES = %w[ArgumentError NoMethodError Exception StandardError NameError
                             LoadError SystemExit SystemStackError].freeze
  MAX_STACK_FRAMES = 100

  # The Runtime API could not be reached or answered unexpectedly.
  class ApiError < StandardError; end

  # Minimal HTTP/1.1 client for the Runtime API: one persistent connection, requests strictly
  # sequential. Not thread-safe.
  class ApiClient
    def initialize(endpoint)
      host, sep, port = endpoint.rpartition(':')
      raise ApiError, "bad AWS_LAMBDA_RUNTIME_API #{endpoint.inspect} (want host:port)" if sep.empty? || port !~ /\A\d+\z/

      @host = host.empty? ? '127.0.0.1' : host
      @port = port.to_i
      @head_suffix = "Host: #{endpoint}\r\nUser-Agent: kindling-ruby/#{RUBY_VERSION}\r\n"
      @sock = nil
    end

    # Blocks until the next event; returns [headers (lowercase names), body].
    def next_invocation
      status, headers, body = request('GET', "#{API_PREFIX}invocation/next")
      raise ApiError, "GET invocation/next answered #{status}: #{body[0, 200]}" unless status == 200

      [headers, body]
    end

    # Posts a handler result; raises ApiError unless the API answers 2xx.
    def post_response(request_id, payload, content_type)
      path = "#{API_PREFIX}invocation/#{request_id}/response"
      status, _, body = request('POST', path, payload, "Content-Type: #{content_type}\r\n")
      raise ApiError, "POST #{path} answered #{status}: #{body[0, 200]}" unless status.between?(200, 299)
    end

    # Posts an invocation error; raises ApiError unless the API answers 2xx.
    def post_error(request_id, error_json, error_type)
      path = "#{API_PREFIX}invocation/#{request_id}/error"
      status, _, body = request('POST', path, error_json, error_headers(error_type))
      raise ApiError, "POST #{path} answered #{status}: #{body[0, 200]}" unless status.between?(200, 299)
    end

    # Posts an init failure (only legal before the first /next).
    def post_init_error(error_json, error_type)
      path = "#{API_PREFIX}init/error"
      status, _, body = request('POST', path, error_json, error_headers(error_type))
      raise ApiError, "POST #{path} answered #{status}: #{body[0, 200]}" unless status.between?(200, 299)
    end

    private

    def error_headers(error_type)
      # Header values must not carry CR/LF; error types come from user exception classes.
      "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: #{error_type.tr("\r\n", '  ')}\r\n"
    end

    def request(method, path, body = nil, extra_headers = nil)
      head = +"#{method} #{path} HTTP/1.1\r\n#{@head_suffix}"
      head << extra_headers if extra_headers
      head << "Content-Length: #{body.bytesize}\r\n" if body
      head << "\r\n"
      2.times do |attempt|
        reused = !@sock.nil?
        connect unless reused
        begin
          if body.nil?
            @sock.write(head)
          else
            @sock.write(head, body)
          end
          return read_response
        rescue SystemCallError, IOError, EOFError => e
          close
          # A kept-alive connection the server already closed fails on first use: retry once
          # on a fresh connection; a fresh connection failing is fatal.
          raise ApiError, "#{method} #{path}: #{e.message}" if !reused || attempt == 1
        end
      end
      raise ApiError, 'unreachable'
    end

    def connect
      @sock = TCPSocket.new(@host, @port)
      @sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      @sock.binmode
    rescue SystemCallError, SocketError => e
      @sock = nil
      raise ApiError, "connect #{@host}:#{@port}: #{e.message}"
    end

    def close
      @sock&.close
    rescue IOError
      nil
    ensure
      @sock = nil
    end

    def read_line
      line = @sock.gets("\n", 65_536)
      raise EOFError, 'connection closed by the Runtime API' if line.nil?

      line
    end

    def read_exactly(length)
      return +'' if length.zero?

      data = @sock.read(length)
      raise EOFError, 'connection closed in the body' if data.nil? || data.bytesize != length

      data
    end

    def read_response
      status_line = read_line
      version, code, = status_line.split(' ', 3)
      raise EOFError, "bad status line #{status_line[0, 100].inspect}" unless version&.start_with?('HTTP/') && code

      status = code.to_i
      headers = {}
      loop do
        line = read_line
        break if line == "\r\n" || line == "\n"

        name, value = line.split(':', 2)
        headers[name.strip.downcase] = value.to_s.strip
      end
      keep_alive = headers['connection']&.casecmp?('close') != true && version != 'HTTP/1.0'
      body =
        if headers['transfer-encoding']&.downcase&.include?('chunked')
          read_chunked
        elsif (length = headers['content-length'])
          read_exactly(length.to_i)
        elsif status == 204 || status == 304 || status < 200
          +''
        else
          keep_alive = false
          @sock.read || +''
        end
      close unless keep_alive
      [status, headers, body]
    end

    def read_chunked
      body = +''
      loop do
        size = read_line.split(';', 2).first.strip.to_i(16)
        if size.zero?
          loop do # trailer section
            line = read_line
            return body if line == "\r\n" || line == "\n"
          end
        end
        body << read_exactly(size)
        read_exactly(2)
      end
    end
  end

  # The `context` argument, with the readers AWS's Ruby runtime provides.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms, :tenant_id

    def initialize(headers, static)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @tenant_id = headers['lambda-runtime-aws-tenant-id']
      @function_name, @function_version, @memory_limit_in_mb, @log_group_name,
        @log_stream_name = static
      identity = headers['lambda-runtime-cognito-identity']
      @identity = JSON.parse(identity) if identity && !identity.empty?
      client_context = headers['lambda-runtime-client-context']
      @client_context = JSON.parse(client_context) if client_context && !client_context.empty?
    end

    # Milliseconds left before the invocation's deadline, never negative.
    def get_remaining_time_in_millis
      remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      remaining.positive? ? remaining : 0
    end
  end

  # Errors as AWS's Ruby runtime shapes them.
  module Errors
    module_function

    # {errorMessage, errorType: "<classification><Class>", stackTrace} for an exception.
    def response(error, classification)
      {
        'errorMessage' => message(error),
        'errorType' => "#{classification}<#{error.class}>",
        'stackTrace' => stack_trace(error)
      }
    end

    # The exception's message as valid UTF-8 (a custom #message may raise or return bytes).
    def message(error)
      text = begin
        error.message.to_s
      rescue StandardError
        error.class.to_s
      end
      return text if text.encoding == Encoding::UTF_8 && text.valid_encoding?

      text.dup.force_encoding(Encoding::UTF_8).scrub('?')
    end

    # The value of Lambda-Runtime-Function-Error-Type for an exception.
    def header_type(error, classification)
      if ALLOWED_ERROR_CLASSES.include?(error.class.to_s)
        "#{classification}<#{error.class}>"
      else
        'Function<UserException>'
      end
    end

    # The exception's frames up to the first one in this runtime (user frames only).
    def stack_trace(error)
      frames = error.backtrace_locations
      frames = (error.backtrace || []) if frames.nil?
      out = []
      frames.first(MAX_STACK_FRAMES).each do |frame|
        path = frame.respond_to?(:absolute_path) ? (frame.absolute_path || frame.path) : frame.to_s
        break if path == RUNTIME_FILE || path.start_with?("#{RUNTIME_FILE}:")

        out << frame.to_s
      end
      out
    end

    # Prints the error to stdout as AWS's runtime does: a headline, then pretty JSON.
    def log(headline, body)
      $stdout.write("#{headline}\n#{JSON.pretty_generate(body)}\n")
    rescue StandardError
      nil
    end
  end

  # Handler strings: "file.method" or "file.Module::Class.method" (the file may sit in a
  # subdirectory: "lib/file.method").
  class Handler
    CONSTANT_PATH = /\A[A-Z]\w*(::[A-Z]\w*)*\z/.freeze

    attr_reader :file, :constant, :method_name

    # Raises ArgumentError for a malformed handler string.
    def initialize(spec)
      rest, dot, method_name = spec.to_s.rpartition('.')
      if dot.empty? || rest.empty? || method_name.empty?
        raise ArgumentError, "Invalid handler #{spec.inspect}, must be of form FILENAME.METHOD " \
                             'or FILENAME.CLASS.METHOD where FILENAME corresponds with an ' \
                             'existing Ruby source file FILENAME.rb, CLASS is an optional ' \
                             'module/class namespace and METHOD is a callable method. If using ' \
                             'CLASS, METHOD must be a class-level method.'
      end
      file, dot, constant = rest.rpartition('.')
      if !dot.empty? && !file.empty? && CONSTANT_PATH.match?(constant)
        @file = file
        @constant = constant
      else
        @file = rest
        @constant = nil
      end
      @method_name = method_name.to_sym
    end

    # Requires the handler's file from the task root (its top level runs here: init code).
    def load(task_root)
      require File.expand_path(@file, task_root)
    end

    # The object the handler method is sent to: the class/module, or the top-level object.
    def receiver
      @receiver ||= @constant ? Object.const_get(@constant) : TOPLEVEL_BINDING.receiver
    end
  end

  # Loads RubyGems at most once (the interpreter runs with --disable-gems).
  module Gems
    module_function

    def loaded?
      defined?(::Gem::Specification) ? true : false
    end

    # Loads RubyGems if it is not loaded yet; true if it was loaded now.
    def load!
      return false if loaded? || @loading

      begin
        @loading = true # a missing rubygems.rb must not recurse through the require fallback
        require 'rubygems'
        true
      rescue LoadError
        false
      ensure
        @loading = false
      end
    end

    # True when the function brings gems the way AWS functions do (the engine sets GEM_PATH
    # for every Ruby function, so that variable alone says nothing).
    def wanted?(task_root)
      bundle_gemfile = ENV.fetch('BUNDLE_GEMFILE', '')
      opt = ENV.fetch('KINDLING_OPT_DIR', '/opt')
      !bundle_gemfile.empty? || File.exist?(File.join(task_root, 'Gemfile')) ||
        File.directory?(File.join(task_root, 'vendor/bundle')) ||
        File.directory?(File.join(opt, 'ruby/gems'))
    end

    # A `require` that fails without RubyGems loads it and tries once more, so gems work
    # however the function finds them; with RubyGems loaded this is a plain pass-through.
    def install_fallback
      Kernel.module_eval do
        alias_method :__kindling_require_without_gems, :require
        private :__kindling_require_without_gems

        def require(path)
          __kindling_require_without_gems(path)
        rescue LoadError
          raise unless KindlingRuntime::Gems.load!

          require(path)
        end
        private :require
        module_function :require
      end
    end
  end

  module_function

  # Runs the runtime; returns the process exit status (only on init failure or API loss).
  def main(argv)
    endpoint = ENV.fetch('AWS_LAMBDA_RUNTIME_API', '127.0.0.1:9001')
    client = ApiClient.new(endpoint)
    task_root = ENV['LAMBDA_TASK_ROOT']
    task_root = Dir.pwd if task_root.nil? || task_root.empty?
    handler_spec = argv[0].nil? || argv[0].empty? ? ENV.fetch('_HANDLER', '') : argv[0]
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    Gems.install_fallback
    Gems.load! if Gems.wanted?(task_root)

    handler = nil
    begin
      handler = Handler.new(handler_spec)
      handler.load(task_root)
    rescue Exception => e # anything raised while loading the handler is an init error
      return fail_init(client, e, handler_spec)
    end

    static = [ENV['AWS_LAMBDA_FUNCTION_NAME'], ENV['AWS_LAMBDA_FUNCTION_VERSION'],
              ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'], ENV['AWS_LAMBDA_LOG_GROUP_NAME'],
              ENV['AWS_LAMBDA_LOG_STREAM_NAME']].map { |v| v&.freeze }.freeze
    loop do
      headers, body = client.next_invocation
      status = invoke(client, handler, headers, body, static)
      return status unless status.nil?
    end
  rescue ApiError => e
    warn "kindling runtime: #{e.message}; exiting"
    1
  end

  # Runs one invocation and posts its outcome; returns nil to go on, or an exit status.
  def invoke(client, handler, headers, body, static)
    request_id = headers['lambda-runtime-aws-request-id'].to_s
    $_global_aws_request_id = request_id # as AWS's runtime sets it
    trace_id = headers['lambda-runtime-trace-id']
    if trace_id && !trace_id.empty?
      ENV['_X_AMZN_TRACE_ID'] = trace_id
    else
      ENV.delete('_X_AMZN_TRACE_ID')
    end
    payload = nil
    content_type = 'application/json'
    begin
      context = LambdaContext.new(headers, static)
      event = headers['content-type'] == 'application/json' ? JSON.parse(body) : body
      result = handler.receiver.__send__(handler.method_name, event: event, context: context)
      if result.is_a?(IO) || (defined?(::StringIO) && result.is_a?(::StringIO))
        payload = result.read.to_s
        content_type = 'application/unknown'
      else
        payload = result.to_json
      end
    rescue NoMethodError, NameError => e
      return fail_invocation(client, request_id, e, 'Critical exception from handler', 1)
    rescue StandardError => e
      return fail_invocation(client, request_id, e, 'Error raised from handler method', nil)
    rescue Exception => e # SystemExit, NoMemoryError, ...: the process ends after reporting
      return fail_invocation(client, request_id, e, 'Critical exception from handler', 1)
    end
    client.post_response(request_id, payload, content_type)
    nil
  end

  def fail_invocation(client, request_id, error, headline, exit_status)
    body = Errors.response(error, 'Function')
    Errors.log(headline, body)
    client.post_error(request_id, body.to_json, Errors.header_type(error, 'Function'))
    exit_status
  end

  def fail_init(client, error, handler_spec)
    body = Errors.response(error, 'Init')
    Errors.log("Init error when loading handler #{handler_spec}", body)
    begin
      client.post_init_error(body.to_json, Errors.header_type(error, 'Init'))
    rescue ApiError => e
      warn "kindling runtime: reporting the init error failed: #{e.message}"
    end
    1
  end
end

exit(KindlingRuntime.main(ARGV)) if $PROGRAM_NAME == __FILE__
