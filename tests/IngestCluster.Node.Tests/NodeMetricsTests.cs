using System.Net;
using IngestCluster.Node.Hosting;

namespace IngestCluster.Node.Tests;

public class NodeMetricsTests
{
    private static readonly IPAddress Source = IPAddress.Parse("198.51.100.7");

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
    public void Label_text_is_read_back_into_tags_with_its_escapes_undone()
    {
        var tags = PrometheusLabels.Parse("a=\"x\",b=\"q\\\"uote \\\\ back\\nline\"");
        Assert.Equal([("a", "x"), ("b", "q\"uote \\ back\nline")], tags.Select(t => (t.Key, (string)t.Value!)));
        Assert.Empty(PrometheusLabels.Parse(""));
        Assert.Throws<ArgumentException>(() => PrometheusLabels.Parse("a=x"));
        Assert.Throws<ArgumentException>(() => PrometheusLabels.Parse("a=\"x"));
    }

    [Fact]
    public void An_ended_flow_forgets_its_counters_and_node_wide_ones_stay()
    {
        var metrics = new NodeMetrics();
        var group = IPAddress.Parse("232.1.1.1");
        metrics.Counter("ingest_flow_packets_total", $"source=\"{Source}\",group=\"{group}\"").Add(5);
        metrics.Counter("ingest_egress_packets_total").Add(5);
        Assert.True(metrics.HasFlowSeries(Source, group));

        metrics.EndFlow(Source, group);

        Assert.False(metrics.HasFlowSeries(Source, group));
        Assert.Equal(0, metrics.Value("ingest_flow_packets_total", $"source=\"{Source}\",group=\"{group}\""));
        Assert.Equal(5, metrics.Value("ingest_egress_packets_total"));
    }

    [Fact]
    public void Flows_over_the_cap_still_count_but_get_no_series_and_are_counted_once_each()
    {
        var metrics = new NodeMetrics(maxFlowSeries: 2);
        for (int i = 1; i <= 4; i++)
        {
            string labels = $"source=\"{Source}\",group=\"232.1.1.{i}\"";
            metrics.Counter("ingest_flow_packets_total", labels).Increment();
            metrics.Counter("ingest_flow_bytes_total", labels).Add(100);
        }

        Assert.True(metrics.HasFlowSeries(Source, IPAddress.Parse("232.1.1.2")));
        Assert.False(metrics.HasFlowSeries(Source, IPAddress.Parse("232.1.1.3")));
        Assert.Equal(1, metrics.Value("ingest_flow_packets_total", $"source=\"{Source}\",group=\"232.1.1.4\""));
        Assert.Equal(2, metrics.Value(NodeMetrics.FlowSeriesCappedName));

        // One ends: the next new flow gets series.
        metrics.EndFlow(Source, IPAddress.Parse("232.1.1.1"));
        metrics.Counter("ingest_flow_packets_total", $"source=\"{Source}\",group=\"232.1.1.5\"").Increment();
        Assert.True(metrics.HasFlowSeries(Source, IPAddress.Parse("232.1.1.5")));
    }

    [Fact]
    public void Incrementing_a_counter_handle_allocates_nothing()
    {
        var metrics = new NodeMetrics();
        var counter = metrics.Counter("ingest_flow_packets_total", $"source=\"{Source}\",group=\"232.1.1.1\"");
        counter.Increment();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            counter.Increment();
            counter.Add(1200);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
