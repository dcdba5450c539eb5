using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli.Tests;

/// <summary>Each resource survives JSON both ways unchanged, under the camelCase names the page and scripts use.</summary>
public sealed class AdminContractsJsonTests
{
    private static void RoundTrips<T>(T value, JsonTypeInfo<T> type, params string[] names)
    {
        string json = JsonSerializer.Serialize(value, type);
        var back = JsonSerializer.Deserialize(json, type);
        Assert.NotNull(back);
        // Records holding lists compare those by reference, so compare what they serialize to.
        Assert.Equal(json, JsonSerializer.Serialize(back, type));
        foreach (var name in names)
        {
            Assert.Contains($"\"{name}\":", json, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Cluster_view_round_trips_with_camel_case_names() =>
        RoundTrips(new ClusterView("akka.tcp://ingest@127.0.0.1:4053", "Up", "akka.tcp://ingest@127.0.0.1:4053",
            [new MemberView("akka.tcp://ingest@127.0.0.1:4053", "Up", ["ingest", "sources"], true),
             new MemberView("akka.tcp://ingest@127.0.0.1:4054", "Leaving", ["ingest"], false)]),
            AdminJson.Default.ClusterView, "self", "selfStatus", "leader", "members", "address", "status", "roles", "reachable");

    [Fact]
    public void Cluster_events_and_commands_round_trip()
    {
        RoundTrips(new ClusterEventsView(7, [new ClusterEventView(7, DateTimeOffset.Parse("2026-12-02T06:25:01.5+00:00", System.Globalization.CultureInfo.InvariantCulture),
            "MemberUp", "akka.tcp://ingest@127.0.0.1:4053", "Up")]), AdminJson.Default.ClusterEventsView, "last", "events", "sequence", "at", "event");
        RoundTrips(new ClusterCommandResult("down", "akka.tcp://ingest@10.0.0.2:4053", "marked down"), AdminJson.Default.ClusterCommandResult, "command", "detail");
        RoundTrips(new AddressRequest("akka.tcp://ingest@10.0.0.2:4053"), AdminJson.Default.AddressRequest, "address");
    }

    [Fact]
    public void Sharding_views_round_trip()
    {
        RoundTrips(new ShardingView(["sources"]), AdminJson.Default.ShardingView, "typeNames");
        RoundTrips(new RegionView("sources", "akka.tcp://ingest@127.0.0.1:4053", [new ShardView("12", 2, ["198.51.100.1", "198.51.100.9"])], ["40"]),
            AdminJson.Default.RegionView, "typeName", "node", "shards", "shardId", "entityCount", "entityIds", "failedShards");
        RoundTrips(new ClusterShardsView("sources", [new RegionShardsView("akka.tcp://ingest@127.0.0.1:4053", [new ShardView("3", 1, [])], [])]),
            AdminJson.Default.ClusterShardsView, "regions");
        RoundTrips(new ActorTreeView("akka.tcp://ingest@127.0.0.1:4053", 2, [new ActorView("/user", [new ActorView("/user/budget", [])])]),
            AdminJson.Default.ActorTreeView, "depth", "roots", "path", "children");
    }

    [Fact]
    public void Data_flow_views_round_trip_with_null_counters_kept_apart_from_zero()
    {
        var flows = new FlowsView("n1", [new FlowView("198.51.100.1", "232.1.1.1", "Tunnelling", "n1", 10, 13_160, 0),
            new FlowView("198.51.100.2", "232.1.1.1", "Resolving", "n2", null, null, null)], null);
        RoundTrips(flows, AdminJson.Default.FlowsView, "flows", "source", "group", "state", "packets", "bytes", "drops", "error");
        string json = JsonSerializer.Serialize(flows, AdminJson.Default.FlowsView);
        var back = JsonSerializer.Deserialize(json, AdminJson.Default.FlowsView)!;
        Assert.Equal(0, back.Flows[0].Drops);
        Assert.Null(back.Flows[1].Drops);

        RoundTrips(new SourcesView([new SourceView("198.51.100.1", "Tunnelling", "192.0.2.1:2268", "joined", ["232.1.1.1"], ["192.0.2.2:2268"], "n1")], ["198.51.100.3"], null),
            AdminJson.Default.SourcesView, "relay", "detail", "groups", "heldDownRelays", "unanswered");
        RoundTrips(new TunnelsView([new TunnelView("198.51.100.1", "192.0.2.1:2268", "Tunnelling", "n1", 1, 5, 500, 0)],
            new Dictionary<string, long> { ["ingest_tunnel_data_packets_total"] = 5 }, null), AdminJson.Default.TunnelsView, "tunnels", "nodeCounters");
        RoundTrips(new PimView("n1", [new PimInterfaceView("eth1", 0xdeadbeef, [new PimNeighborView("10.0.0.9", 7, 1, DateTimeOffset.UnixEpoch)],
            [new PimJoinView("198.51.100.1", "232.1.1.1", "JOIN", null)], null)]), AdminJson.Default.PimView, "interfaces", "neighbors", "joins", "expiresAt", "generationId", "drPriority");
    }

    [Fact]
    public void Relay_override_and_log_level_views_round_trip()
    {
        RoundTrips(new RelayOverridesView("n1", false, [new RelayOverrideView("162.250.136.0/22", "amt-relay.m2icast.net", null, false)]),
            AdminJson.Default.RelayOverridesView, "consultBeforeDns", "overrides", "prefix", "resolvedTo", "fromSettings");
        RoundTrips(new RelayOverrideRequest("10.0.5.0/24", "10.0.9.1:2268"), AdminJson.Default.RelayOverrideRequest, "prefix", "relay");
        RoundTrips(new LogLevelView("Debug"), AdminJson.Default.LogLevelView, "level");
        RoundTrips(new AdminError("no such member"), AdminJson.Default.AdminError, "error");
    }

    [Fact]
    public void Budget_view_keeps_the_names_budget_has_always_served()
    {
        var at = new DateTimeOffset(2026, 12, 2, 17, 0, 0, TimeSpan.Zero);
        RoundTrips(new BudgetView("10Mbps", 10_000_000, "admin", "4Mbps", 4_000_000,
                [new BudgetAdmittedView("198.51.100.12", "232.1.1.1", 4_000_000, 196_000_000, 50, "default")],
                [new BudgetBlockedView("198.51.100.12", "232.1.1.3", at, "OverLimit", "over", 1)],
                [new BudgetPendingView("198.51.100.12", "232.1.1.4", at)], ["joinfile@n1"]),
            AdminJson.Default.BudgetView, "limit", "limitBitsPerSecond", "limitFrom", "used", "usedBitsPerSecond", "admitted", "source", "group",
            "bitsPerSecond", "offloadBitsPerSecond", "population", "bitrateFrom", "blocked", "until", "reason", "detail", "pending", "since", "origins");
        RoundTrips(new BudgetLimitRequest("2Gbps"), AdminJson.Default.BudgetLimitRequest, "limit");
        RoundTrips(new CaptureRequest("lo", 3, "data"), AdminJson.Default.CaptureRequest, "interface", "seconds", "filter");
    }
}
