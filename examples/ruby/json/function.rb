# frozen_string_literal: true

# JSON Ruby function for kindling (handler: function.handler).
#
# The event is the shared document examples/data/document.json: an array of
# {id, category, value, tags} records. Returns
#   {"count": N, "by_category": {cat: {"n": k, "sum": <sum of value rounded to 2 decimals>}},
#    "top3": [ids of the three largest values, largest first (ties: smaller id first)]}
# with the categories in sorted order, identical to every other language's answer.
def handler(event:, context:)
  raise ArgumentError, 'the event must be an array of records' unless event.is_a?(Array)

  by_category = Hash.new { |h, k| h[k] = { 'n' => 0, 'sum' => 0.0 } }
  event.each do |record|
    entry = by_category[record['category']]
    entry['n'] += 1
    entry['sum'] += record['value']
  end
  by_category.each_value { |entry| entry['sum'] = entry['sum'].round(2) }
  top3 = event.min_by(3) { |record| [-record['value'], record['id']] }.map { |record| record['id'] }
  { 'count' => event.size, 'by_category' => by_category.sort.to_h, 'top3' => top3 }
end
