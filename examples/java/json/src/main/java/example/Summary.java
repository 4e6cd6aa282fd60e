// JSON-processing Java function for kindling (handler: example.Summary::handleRequest).
// The event is the shared document (examples/data/document.json), deserialised into POJOs
// (List<Record>) by the runtime, as on AWS. Returns
// {"count": N, "by_category": {category: {"n": k, "sum": <sum of values, 2 decimals>}},
//  "top3": [ids of the three largest values, largest first; ties by id]}.
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public class Summary implements RequestHandler<List<Summary.Record>, Map<String, Object>> {
  /** One record of the document; public fields and a default constructor, as Jackson wants. */
  public static class Record {
    public String id;
    public String category;
    public double value;
    public List<String> tags;
  }

  /** Per-category statistics; serialised as {"n": k, "sum": s}. */
  public static class Stats {
    public long n;
    public double sum;
  }

  @Override
  public Map<String, Object> handleRequest(List<Record> records, Context context) {
    Map<String, Stats> byCategory = new TreeMap<>();
    for (Record r : records) {
      Stats s = byCategory.computeIfAbsent(r.category, k -> new Stats());
      s.n++;
      s.sum += r.value;
    }
    // Round half-even on the double's exact value: the same digits as Python's round(x, 2).
    for (Stats s : byCategory.values()) {
      s.sum = new BigDecimal(s.sum).setScale(2, RoundingMode.HALF_EVEN).doubleValue();
    }
    List<Record> sorted = new ArrayList<>(records);
    sorted.sort(Comparator.comparingDouble((Record r) -> -r.value).thenComparing(r -> r.id));
    List<String> top3 = new ArrayList<>(3);
    for (int i = 0; i < Math.min(3, sorted.size()); ++i) top3.add(sorted.get(i).id);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("count", records.size());
    out.put("by_category", byCategory);
    out.put("top3", top3);
    return out;
  }
}
