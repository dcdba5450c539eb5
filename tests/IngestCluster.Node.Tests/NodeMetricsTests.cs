using IngestCluster.Node.Hosting;

namespace IngestCluster.Node.Tests;

public class NodeMetricsTests
{
    [Fact]
    public void Counters_with_the_same_name_and_labels_are_one_counter()
    {
        var metrics = new NodeMetrics();
        metrics.Counter("ingest_test_total", "reason=\"a\"").Increment();
        metrics.Counter("ingest_test_total", "reason=\"a\"").Add(2);
        metrics.Counter("ingest_test_total", "reason=\"b\"").Increment();

        Assert.Equal(3, metrics.Value("ingest_test_total", "reason=\"a\""));
        Assert.Equal(4, metrics.Total("ingest_test_total"));
        Assert.Equal(0, metrics.Value("ingest_never_touched_total"));
    }

    [Fact]
    public void Prometheus_text_has_one_type_line_per_name_and_a_line_per_label_set()
    {
        var metrics = new NodeMetrics();
        metrics.Counter("ingest_x_total", "reason=\"b\"", "Things.").Add(5);
        metrics.Counter("ingest_x_total", "reason=\"a\"", "Things.").Add(7);

        Assert.Equal(
            "# HELP ingest_x_total Things.\n# TYPE ingest_x_total counter\n" +
            "ingest_x_total{reason=\"a\"} 7\ningest_x_total{reason=\"b\"} 5\n",
            metrics.ToPrometheusText());
    }
}
