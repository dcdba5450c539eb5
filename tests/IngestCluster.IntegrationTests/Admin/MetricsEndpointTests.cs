using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using IngestCluster.Admin.Contracts;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// <c>/metrics</c> of a whole node (<see cref="AdminNode"/>: the real stages, Kestrel on a loopback port), scraped over
/// HTTP and parsed as the Prometheus text format: the families' types, label escaping, the budget and cluster gauges,
/// and a per-(S,G) series that leaves once its flow is released by the budget (a joinfile line removed).
/// </summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private static readonly IPAddress Source = IPAddress.Parse("198.51.100.12");
    private static readonly IPAddress Kept = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress Ended = IPAddress.Parse("232.1.1.2");

    private readonly string _directory = Directory.CreateTempSubdirectory("icop-metrics-").FullName;
    private string Joinfile => AdminNode.JoinfileIn(_directory);
    private AdminNode? _node;

    public async Task InitializeAsync() =>
        _node = await AdminNode.StartBudgeted(_directory, $"{Source},{Kept}\n{Source},{Ended}\n");

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Metrics_are_typed_escaped_and_a_flows_series_leave_when_the_flow_ends()
    {
        using var http = _node!.Http();
        await Until(async () => await Budget(http) is { Admitted.Count: 2 }, "both flows admitted");
        var metrics = _node.Services.GetRequiredService<NodeMetrics>();

        // The tunnels' per-(S,G) counters, taken as a tunnel takes them when it joins; and a label that needs escaping.
        // Each flow's first packet is one join-to-first-packet observation, at most the time this took.
        long joinedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var kept = new FlowStats(new SourceGroup(Source, Kept), metrics);
        var ended = new FlowStats(new SourceGroup(Source, Ended), metrics);
        kept.Forwarded(1, 1200);
        ended.Forwarded(1, 1300);
        ended.Forwarded(1, 1300);
        double firstPacketsWithin = System.Diagnostics.Stopwatch.GetElapsedTime(joinedAt).TotalSeconds;
        metrics.Counter("ingest_test_labels_total", $"note=\"{PrometheusLabels.Escape("a \"quoted\" C:\\path\nsecond line")}\"", "A label value to escape.").Add(3);
        metrics.RecordJoinToFirstPacket(TimeSpan.FromMilliseconds(250));

        var text = await Until(async () =>
        {
            var t = Exposition.Parse(await Scrape(http));
            return t.Value("ingest_budget_used_bits_per_second") == 8_000_000 ? t : null;
        }, "the budget's used gauge at 8 Mbit/s");

        Assert.Equal("counter", text.Type("ingest_flow_packets_total"));
        Assert.Equal("counter", text.Type("ingest_flow_bytes_total"));
        Assert.Equal("counter", text.Type("ingest_flow_dropped_total"));
        Assert.Equal("counter", text.Type("ingest_budget_flows_admitted_total"));
        Assert.Equal("counter", text.Type("ingest_parse_errors_total"));
        Assert.Equal("counter", text.Type("ingest_failover_events_total"));
        Assert.Equal("gauge", text.Type("ingest_budget_used_bits_per_second"));
        Assert.Equal("gauge", text.Type("ingest_budget_limit_bits_per_second"));
        Assert.Equal("gauge", text.Type("ingest_cluster_members"));
        Assert.Equal("gauge", text.Type("ingest_tunnels"));
        Assert.Equal("histogram", text.Type("ingest_join_to_first_packet_seconds"));
        Assert.Equal("counter", text.Type("ingest_flow_series_capped_total"));
        Assert.Equal(0, text.Value("ingest_flow_series_capped_total"));
        Assert.Equal("gauge", text.Type("ingest_cluster_unreachable_members"));
        Assert.Equal(0, text.Value("ingest_cluster_unreachable_members"));
        Assert.DoesNotContain(text.Samples, s => s.Name.EndsWith("_total_total", StringComparison.Ordinal));

        string flow = $"source=\"{Source}\",group=\"{Ended}\"";
        Assert.Equal(2, text.Value("ingest_flow_packets_total", flow));
        Assert.Equal(2600, text.Value("ingest_flow_bytes_total", flow));
        Assert.Equal(0, text.Value("ingest_flow_dropped_total", flow + ",reason=\"ttl_expired\""));
        Assert.Equal(10_000_000, text.Value("ingest_budget_limit_bits_per_second"));
        Assert.Equal(2, text.Value("ingest_budget_flows_admitted_total"));
        Assert.Equal(1, text.Value("ingest_cluster_members", "status=\"Up\""));
        Assert.Equal(0, text.Value("ingest_cluster_members", "status=\"Down\""));
        Assert.Equal(0, text.Value("ingest_tunnels", "state=\"Established\""));
        Assert.Equal(0, text.Value("ingest_parse_errors_total", "protocol=\"amt\""));
        Assert.True(text.Value("ingest_failover_events_total", "kind=\"budget_recovered\"") >= 1);
        // Two first packets (kept, ended) and the 250 ms recorded by hand.
        Assert.Equal(3, text.Value("ingest_join_to_first_packet_seconds_count"));
        double sum = text.Value("ingest_join_to_first_packet_seconds_sum");
        Assert.InRange(sum, 0.25, 0.25 + 2 * firstPacketsWithin + 1e-9);
        Assert.Equal(3, text.Value("ingest_join_to_first_packet_seconds_bucket", "le=\"+Inf\""));
        // The buckets are cumulative: the hand-made 250 ms is in le=0.25, not le=0.1; the first packets are in both
        // as long as they came within 0.1 s of their joins.
        double quick = firstPacketsWithin <= 0.1 ? 2 : text.Value("ingest_join_to_first_packet_seconds_bucket", "le=\"0.1\"");
        Assert.Equal(quick, text.Value("ingest_join_to_first_packet_seconds_bucket", "le=\"0.1\""));
        Assert.Equal(quick + 1, text.Value("ingest_join_to_first_packet_seconds_bucket", "le=\"0.25\""));

        // The escaping, as the text format has it (backslash, quote, line feed), and read back by an independent parser.
        Assert.Contains("ingest_test_labels_total{note=\"a \\\"quoted\\\" C:\\\\path\\nsecond line\"} 3\n", text.Raw, StringComparison.Ordinal);
        var escaped = Assert.Single(text.Samples, s => s.Name == "ingest_test_labels_total");
        Assert.Equal("a \"quoted\" C:\\path\nsecond line", escaped.Labels["note"]);

        // The flow ends: its line leaves the joinfile, the budget releases it, the source entity drops the group,
        // and the next scrape has no series for it; the other flow's stay.
        string temp = Joinfile + ".tmp";
        await File.WriteAllTextAsync(temp, $"{Source},{Kept}\n");
        File.Move(temp, Joinfile, overwrite: true);
        var after = await Until(async () =>
        {
            var t = Exposition.Parse(await Scrape(http));
            return t.Samples.Any(s => s.Labels.GetValueOrDefault("group") == Ended.ToString()) ? null : t;
        }, $"no series for {Ended} after its flow ended");
        Assert.Equal(1, after.Value("ingest_flow_packets_total", $"source=\"{Source}\",group=\"{Kept}\""));
        Assert.Equal("counter", after.Type("ingest_flow_packets_total"));
        Assert.Equal(4_000_000, after.Value("ingest_budget_used_bits_per_second"));
        Assert.True(after.Value("ingest_budget_flows_released_total") >= 1);
        Assert.False(metrics.HasFlowSeries(Source, Ended));
    }

    private static async Task<string> Scrape(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<BudgetView?> Budget(HttpClient http)
    {
        using var response = await http.GetAsync(AdminRoutes.Budget);
        return response.IsSuccessStatusCode
            ? JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), AdminJson.Default.BudgetView)
            : null;
    }

    private static async Task Until(Func<Task<bool>> condition, string what) =>
        await Until(async () => await condition() ? "" : null, what);

    private static async Task<T> Until<T>(Func<Task<T?>> attempt, string what) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (await attempt() is { } done)
            {
                return done;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within 30 s");
            }
            await Task.Delay(200);
        }
    }
}

/// <summary>A reader of the Prometheus text exposition format (0.0.4), written for the tests from the format's
/// description: <c># TYPE</c> lines and samples with escaped label values.</summary>
public sealed class Exposition
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, string LabelText, double Value);

    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);

    private Exposition(string raw) => Raw = raw;

    public string Raw { get; }

    public List<Sample> Samples { get; } = [];

    public string? Type(string family) => _types.GetValueOrDefault(family);

    /// <summary>The value of the sample <paramref name="name"/> whose labels include <paramref name="labels"/> (label
    /// text, as written in the format); NaN when there is none.</summary>
    public double Value(string name, string labels = "")
    {
        var wanted = ParseLabels(labels, 0, out _);
        var sample = Samples.FirstOrDefault(s => s.Name == name && wanted.All(w => s.Labels.GetValueOrDefault(w.Key) == w.Value)
            && (wanted.Count > 0 || s.Labels.Count == 0));
        return sample?.Value ?? double.NaN;
    }

    public static Exposition Parse(string text)
    {
        var exposition = new Exposition(text);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                exposition._types[parts[2]] = parts[3];
                continue;
            }
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            int nameEnd = line.IndexOfAny(['{', ' ']);
            string name = line[..nameEnd];
            IReadOnlyDictionary<string, string> labels = new Dictionary<string, string>();
            int rest = nameEnd;
            string labelText = "";
            if (line[nameEnd] == '{')
            {
                labels = ParseLabels(line, nameEnd + 1, out rest);
                labelText = line[(nameEnd + 1)..(rest - 1)];
            }
            string value = line[rest..].Trim().Split(' ')[0];
            exposition.Samples.Add(new Sample(name, labels, labelText, value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, CultureInfo.InvariantCulture),
            }));
        }
        return exposition;
    }

    /// <summary>Labels from <paramref name="start"/> to the closing brace (or the end); <paramref name="end"/> is just
    /// past the brace.</summary>
    private static Dictionary<string, string> ParseLabels(string text, int start, out int end)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = start;
        while (i < text.Length && text[i] != '}')
        {
            int equals = text.IndexOf('=', i);
            string key = text[i..equals].Trim(' ', ',');
            var value = new StringBuilder();
            int j = equals + 2; // past ="
            while (text[j] != '"')
            {
                if (text[j] == '\\')
                {
                    j++;
                    value.Append(text[j] switch { 'n' => '\n', var c => c });
                }
                else
                {
                    value.Append(text[j]);
                }
                j++;
            }
            labels[key] = value.ToString();
            i = j + 1;
            if (i < text.Length && text[i] == ',')
            {
                i++;
            }
        }
        end = i + 1;
        return labels;
    }
}
