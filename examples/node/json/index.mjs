// JSON-processing Node.js function for kindling, as an ES module (handler: index.handler).
// The event is the shared document (examples/data/document.json): an array of
// {id, category, value, tags} records. Returns
// {count: N, by_category: {category: {n: k, sum: <sum of values, 2 decimals>}},
//  top3: [ids of the three largest values, largest first; ties by id]}.

// True when record a ranks before record b (larger value first, then smaller id).
const ranksBefore = (a, b) => a.value > b.value || (a.value === b.value && a.id < b.id);

export const handler = async (records) => {
  if (!Array.isArray(records)) {
    throw new TypeError(`the event must be an array of records, got ${typeof records}`);
  }
  const stats = new Map();
  const top = []; // at most 3 records, best first
  for (const record of records) {
    let s = stats.get(record.category);
    if (s === undefined) {
      s = { n: 0, sum: 0 };
      stats.set(record.category, s);
    }
    s.n += 1;
    s.sum += record.value;
    if (top.length < 3 || ranksBefore(record, top[top.length - 1])) {
      let at = Math.min(top.length, 2);
      if (top.length === 3) top.pop();
      while (at > 0 && ranksBefore(record, top[at - 1])) at--;
      top.splice(at, 0, record);
    }
  }
  const byCategory = {};
  for (const category of [...stats.keys()].sort()) {
    const s = stats.get(category);
    // toFixed rounds the exact binary value, as Python's round(x, 2) does.
    byCategory[category] = { n: s.n, sum: Number(s.sum.toFixed(2)) };
  }
  return { count: records.length, by_category: byCategory, top3: top.map((r) => r.id) };
};
