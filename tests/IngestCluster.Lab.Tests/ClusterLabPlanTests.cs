using IngestCluster.Lab.Topology;

namespace IngestCluster.Lab.Tests;

/// <summary>The cluster lab's address plan: the default is the failover tests' lab as it was; the netns lab's
/// 10.170 plan moves every address and the reverse zone, and adds the DORMS records only when asked.</summary>
public sealed class ClusterLabPlanTests
{
    [Fact]
    public void The_default_plan_keeps_the_failover_labs_addresses()
    {
        var plan = ClusterLabPlan.Default;
        Assert.Equal(ClusterTopology.ClusterAddress, plan.ClusterAddress);
        Assert.Equal(ClusterTopology.RouterDownstream, plan.RouterDownstream);
        Assert.Equal(ClusterTopology.Relay, plan.Relay);
        Assert.Equal("10.93.4.2", ClusterTopology.Source(0));
        Assert.Equal("10.93.4.13", ClusterTopology.Source(11));
        Assert.Equal("akka.tcp://ingest@10.93.9.12:4053", ClusterTopology.NodeAddress(2));
        var zones = plan.Zones();
        var zone = Assert.Single(zones);
        Assert.Equal("4.93.10.in-addr.arpa", zone.Key);
        Assert.Equal(12, zone.Value.Split('\n').Count(l => l.Contains("IN AMTRELAY 10 0 1 10.93.3.1", StringComparison.Ordinal)));
        Assert.DoesNotContain("_dorms", zone.Value, StringComparison.Ordinal);
        Assert.Null(plan.NamespacePrefix);
    }

    [Fact]
    public void The_netns_lab_plan_moves_every_address_and_adds_dorms_records()
    {
        var plan = new ClusterLabPlan("10.170", 2, "icnl-", "/tmp/x", DormsKbps: 500);
        Assert.Equal("10.170.2.10", plan.ClusterAddress);
        Assert.Equal("10.170.4.3", plan.Source(1));
        Assert.Equal("10.170.9.13", plan.ClusterHost(3));
        var zones = plan.Zones();
        Assert.Equal(["4.170.10.in-addr.arpa", "lab.example"], zones.Keys.Order(StringComparer.Ordinal));
        var reverse = zones["4.170.10.in-addr.arpa"];
        Assert.Contains("3 IN AMTRELAY 10 0 1 10.170.3.1", reverse, StringComparison.Ordinal);
        Assert.Contains("_dorms._tcp.3 IN SRV 0 0 8443 dorms.lab.example.", reverse, StringComparison.Ordinal);
        Assert.DoesNotContain("4 IN AMTRELAY", reverse, StringComparison.Ordinal); // two sources only
        Assert.Contains("dorms IN A 10.170.3.1", zones["lab.example"], StringComparison.Ordinal);
        Assert.DoesNotContain(zones.Values, z => z.Contains("10.93.", StringComparison.Ordinal));
    }
}
