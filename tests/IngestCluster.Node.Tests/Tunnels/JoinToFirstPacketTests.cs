using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Tunnels;

/// <summary>
/// <c>ingest_join_to_first_packet_seconds</c>: a flow's clock starts when its tunnel joins it (its
/// <see cref="FlowStats"/> is made) and stops at the first packet forwarded; one observation per flow and tunnel.
/// </summary>
public sealed class JoinToFirstPacketTests : IDisposable
{
    private static readonly SourceGroup Flow = new(IPAddress.Parse("10.91.4.2"), IPAddress.Parse("232.1.1.1"));
    private readonly NodeMetrics _metrics = new();
    private readonly MeterListener _listener = new();
    private readonly List<double> _recorded = [];

    public JoinToFirstPacketTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == _metrics.Meter && instrument.Name == NodeMetrics.JoinToFirstPacketName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (_recorded)
            {
                _recorded.Add(value);
            }
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public void The_first_forwarded_packet_records_the_time_since_the_join_once()
    {
        var time = new FakeTimeProvider();
        var stats = new FlowStats(Flow, _metrics, time);
        time.Advance(TimeSpan.FromMilliseconds(40));
        stats.Forwarded(1, 1300);
        time.Advance(TimeSpan.FromSeconds(2));
        stats.Forwarded(1, 1300);
        stats.Forwarded(1, 1300);

        Assert.Equal(0.040, Assert.Single(_recorded), 9);
        Assert.Equal(3, stats.Packets);
    }

    [Fact]
    public void Drops_are_not_a_first_packet_and_a_flow_that_never_forwards_records_nothing()
    {
        var time = new FakeTimeProvider();
        var stats = new FlowStats(Flow, _metrics, time);
        stats.TtlExpiredDrop();
        stats.SendError();
        time.Advance(TimeSpan.FromMilliseconds(7));
        Assert.Empty(_recorded);

        stats.Forwarded(1, 100);
        Assert.Equal(0.007, Assert.Single(_recorded), 9);
    }

    [Fact]
    public void A_table_change_keeps_a_joined_flow_s_clock_and_a_new_flow_starts_its_own()
    {
        var loop = new TunnelDataPath(new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp),
            new IPEndPoint(IPAddress.Loopback, 2268), new TunnelReceiveLoopTests.RecordingEgress(), _ => { }, _metrics);
        loop.Flows = JoinedFlowTable.Empty.With([Flow], _metrics);
        loop.Handle(TunnelReceiveLoopTests.DataMessage(Flow));
        Assert.Single(_recorded);

        // A second group joins: the first flow's stats carry over (no second observation for it), the new one records
        // at its own first packet.
        var second = Flow with { Group = IPAddress.Parse("232.1.1.2") };
        loop.Flows = loop.Flows.With([Flow, second], _metrics);
        loop.Handle(TunnelReceiveLoopTests.DataMessage(Flow));
        Assert.Single(_recorded);
        loop.Handle(TunnelReceiveLoopTests.DataMessage(second));
        Assert.Equal(2, _recorded.Count);
        Assert.All(_recorded, seconds => Assert.True(seconds >= 0));
    }
}
