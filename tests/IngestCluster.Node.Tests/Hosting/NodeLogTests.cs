using System.Net;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Hosting.Logging;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using Microsoft.Extensions.Logging;

namespace IngestCluster.Node.Tests.Hosting;

public sealed class NodeLogTests
{
    private sealed record Written(string Category, LogLevel Level, EventId Id, string Message, IReadOnlyList<KeyValuePair<string, object?>> State);

    private sealed class Capture : ILoggerProvider
    {
        public List<Written> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(Capture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    lock (owner.Lines)
                    {
                        owner.Lines.Add(new Written(category, logLevel, eventId, formatter(state, exception),
                            state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
                    }
                }
            }
        }
    }

    [Fact]
    public void An_event_has_its_literal_name_as_event_name_and_message_start_and_its_arguments_as_fields()
    {
        using var capture = new Capture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        var logger = factory.CreateLogger("budget");
        var flow = new SourceGroup(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));

        NodeLog.BudgetAdmitted(logger, LogLevel.Information, flow, "4Mbps", "8Mbps");
        NodeLog.BudgetAdmitted(logger, LogLevel.Debug, flow, "4Mbps", "8Mbps");
        NodeLog.BudgetBlocked(logger, LogLevel.Information, flow, new DateTimeOffset(2026, 12, 3, 15, 0, 0, TimeSpan.Zero), "needs 4Mbps");

        Assert.Equal(2, capture.Lines.Count);
        var admitted = capture.Lines[0];
        Assert.Equal("budget.admitted", admitted.Id.Name);
        Assert.Equal(2101, admitted.Id.Id);
        Assert.Equal("budget.admitted: (198.51.100.12,232.1.1.1) at 4Mbps, offload 8Mbps", admitted.Message);
        Assert.Contains(admitted.State, kv => kv.Key == "Offload" && (string?)kv.Value == "8Mbps");
        Assert.Equal("budget.blocked", capture.Lines[1].Id.Name);
        Assert.StartsWith("budget.blocked: (198.51.100.12,232.1.1.1) until 2026-12-03 15:00:00Z", capture.Lines[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Actors_get_the_nodes_logger_factory_and_a_null_logger_without_one()
    {
        using var capture = new Capture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        var setup = BootstrapSetup.Create().And(new LoggerFactorySetup(factory));
        using (var system = ActorSystem.Create("nodelog", setup))
        {
            NodeLog.SourceHandOff(NodeLog.For(system, typeof(NodeLogTests)), "198.51.100.12", TimeSpan.FromSeconds(6));
        }
        var line = Assert.Single(capture.Lines);
        Assert.Equal(typeof(NodeLogTests).FullName, line.Category);
        Assert.Equal("source.handoff", line.Id.Name);

        using var bare = ActorSystem.Create("nodelog-bare");
        Assert.False(NodeLog.For(bare, typeof(NodeLogTests)).IsEnabled(LogLevel.Critical));
    }

    [Fact]
    public void An_unknown_log_format_stops_the_start_with_the_setting_named()
    {
        var e = Assert.Throws<NodeStartException>(() => NodeHost.Build(["--Logging:Format=xml", $"--Node:DataDirectory={Path.GetTempPath()}"]));
        Assert.Contains("Logging:Format", e.Message, StringComparison.Ordinal);
        Assert.Contains("simple or json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_event_has_a_unique_id_and_name_and_its_message_starts_with_the_name()
    {
        var events = typeof(NodeLog).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(m => (Method: m.Name, Attribute: m.GetCustomAttributes(typeof(LoggerMessageAttribute), false).Cast<LoggerMessageAttribute>().SingleOrDefault()))
            .Where(e => e.Attribute is not null)
            .Select(e => (e.Method, Attribute: e.Attribute!))
            .ToList();

        Assert.True(events.Count >= 50, $"only {events.Count} events");
        Assert.All(events, e =>
        {
            Assert.False(string.IsNullOrEmpty(e.Attribute.EventName), $"{e.Method} has no event name");
            Assert.Matches("^(budget|source|pim|tunnel|demand|journal|facts|singleton|cluster_address)\\.[a-z_]+$", e.Attribute.EventName!);
            Assert.StartsWith(e.Attribute.EventName + ": ", e.Attribute.Message, StringComparison.Ordinal);
        });
        Assert.Equal(events.Count, events.Select(e => e.Attribute.EventId).Distinct().Count());
        Assert.Equal(events.Count, events.Select(e => e.Attribute.EventName).Distinct().Count());
        foreach (string name in new[] { "pim.joined", "pim.left", "pim.neighbor_up", "tunnel.open", "tunnel.state", "tunnel.gave_up", "budget.blocked" })
        {
            Assert.Contains(events, e => e.Attribute.EventName == name);
        }
    }

    [Fact]
    public void Pim_and_tunnel_events_read_as_the_lines_the_labs_look_for()
    {
        using var capture = new Capture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        var logger = factory.CreateLogger("pim");
        var flow = new SourceGroup(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));
        var relay = new IPEndPoint(IPAddress.Parse("192.0.2.9"), 2268);

        NodeLog.PimJoined(logger, flow, "d0");
        NodeLog.PimLeft(logger, flow, "d0");
        NodeLog.PimStarted(logger, "eth1", 7, 2471848958, "10.146.0.10, 10.146.0.11");
        NodeLog.TunnelOpen(logger, relay, flow.Source, 45958, "batches of 64");
        NodeLog.TunnelState(logger, relay, flow.Source, "Requesting", "Established", "membership query");
        NodeLog.TunnelGaveUp(logger, relay, flow.Source, "no advertisement", TimeSpan.FromMinutes(3));
        NodeLog.PimMalformed(logger, flow.Source, "d0", "truncated"); // Debug: below this capture's level

        Assert.Equal(
        [
            "pim.joined: (198.51.100.12,232.1.1.1) on d0",
            "pim.left: (198.51.100.12,232.1.1.1) on d0",
            "pim.started: eth1 (index 7), GenID 2471848958, accepting Joins to 10.146.0.10, 10.146.0.11",
            "tunnel.open: relay 192.0.2.9:2268 for source 198.51.100.12 from local port 45958 (batches of 64)",
            "tunnel.state: relay 192.0.2.9:2268 source 198.51.100.12: Requesting -> Established (membership query)",
            "tunnel.gave_up: relay 192.0.2.9:2268 source 198.51.100.12: no advertisement; hold-down 00:03:00",
        ], capture.Lines.Select(l => l.Message));
        Assert.Equal(LogLevel.Warning, capture.Lines[^1].Level);
        Assert.Contains(capture.Lines[3].State, kv => kv.Key == "Port" && kv.Value is 45958);
    }
}
