using System.Net;
using IngestCluster.Node.Egress;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Egress;

public sealed class FlowCountersTests
{
    private static readonly SourceGroup FlowA = new(IPAddress.Parse("10.1.1.1"), IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup FlowB = new(IPAddress.Parse("10.1.1.2"), IPAddress.Parse("232.1.1.1"));

    [Fact]
    public void Each_flow_counts_its_own_packets_bytes_and_drops_by_reason()
    {
        var flows = new FlowCounters();
        var a = flows.For(FlowA);
        var b = flows.For(FlowB);

        a.Forwarded(100);
        a.Forwarded(50);
        a.Dropped(FlowDropReason.TtlExpired);
        b.Dropped(FlowDropReason.SendFailed);
        b.Dropped(FlowDropReason.SendFailed);

        Assert.Same(a, flows.For(FlowA));
        Assert.Equal((2, 150, 1, 1), (a.Packets, a.Bytes, a.Drops(FlowDropReason.TtlExpired), a.TotalDrops));
        Assert.Equal((0, 0, 2, 2), (b.Packets, b.Bytes, b.Drops(FlowDropReason.SendFailed), b.TotalDrops));
        Assert.Equal(0, b.Drops(FlowDropReason.NotJoined));
    }

    [Fact]
    public void Removed_flow_leaves_the_snapshot_and_starts_from_zero_when_it_returns()
    {
        var flows = new FlowCounters();
        flows.For(FlowA).Forwarded(10);
        flows.For(FlowB);

        Assert.True(flows.Remove(FlowA));

        Assert.Equal([FlowB], flows.Snapshot().Select(f => f.Flow));
        Assert.Equal(0, flows.For(FlowA).Packets);
    }

    [Fact]
    public void Concurrent_updates_are_not_lost()
    {
        var counter = new FlowCounters().For(FlowA);

        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                counter.Forwarded(2);
            }
        });

        Assert.Equal(100_000, counter.Packets);
        Assert.Equal(200_000, counter.Bytes);
    }
}
