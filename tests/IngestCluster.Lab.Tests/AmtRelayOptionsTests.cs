using IngestCluster.Lab.Topology;
using System.Net;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// Relay options that change its answers, each test with its own relay process: two namespaces (relay 10.203.7.1,
/// gateway 10.203.7.2); no source, since these tests look at the control plane only.
/// </summary>
public sealed class AmtRelayOptionsTests : IDisposable
{
    private static readonly IPAddress RelayAddress = IPAddress.Parse("10.203.7.1");
    private static readonly IPAddress GatewayAddress = IPAddress.Parse("10.203.7.2");
    private static readonly IPAddress Group = IPAddress.Parse("232.7.7.7");
    private static readonly IPAddress Source = IPAddress.Parse("10.203.9.9");
    private static readonly TimeSpan Reply = TimeSpan.FromSeconds(5);

    private readonly LabNetwork _network = new();
    private readonly string _relayNs;
    private readonly string _relayIf;
    private readonly NamespaceThread _gatewayThread;

    public AmtRelayOptionsTests()
    {
        try
        {
            _relayNs = _network.AddNamespace("rly");
            var gatewayNs = _network.AddNamespace("gw");
            (_relayIf, _) = _network.Link(_relayNs, "10.203.7.1", gatewayNs, "10.203.7.2", "op");
            _gatewayThread = new NamespaceThread(gatewayNs);
        }
        catch
        {
            _network.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _gatewayThread.Dispose();
        _network.Dispose();
    }

    [Fact]
    public void Limited_capacity_sets_L_and_without_gateway_fields_G_is_clear()
    {
        using var relay = StartRelay("--limited-capacity");
        using var gateway = NewGateway();

        gateway.SendRequest(FakeGateway.NewNonce());

        Assert.True(AmtMembershipQuery.TryRead(gateway.ReceiveControl(Reply), out var query, out var error), error.Message);
        Assert.True(query.LimitedCapacity);
        Assert.Null(query.GatewayAddress);
        Assert.Null(query.GatewayPort);
    }

    [Fact]
    public void Beyond_max_tunnels_the_next_gateway_is_told_L_and_its_update_is_refused()
    {
        using var relay = StartRelay("--max-tunnels", "1");
        using var first = NewGateway();
        using var second = NewGateway();
        var (mac, nonce) = Handshake(first, out var firstQuery);
        Assert.False(firstQuery.LimitedCapacity);
        first.SendUpdate(mac, nonce, new IgmpV3GroupRecord(IgmpRecordType.AllowNewSources, Group, [Source]));
        relay.WaitFor("tunnel-up", l => l.GetProperty("gateway").GetString() == first.Name);

        var (mac2, nonce2) = Handshake(second, out var secondQuery);
        Assert.True(secondQuery.LimitedCapacity);
        second.SendUpdate(mac2, nonce2, new IgmpV3GroupRecord(IgmpRecordType.AllowNewSources, Group, [Source]));

        var rejected = relay.WaitFor("rejected", l => l.GetProperty("gateway").GetString() == second.Name);
        Assert.Equal("capacity", rejected.GetProperty("reason").GetString());
    }

    [Fact]
    public void Tunnel_that_is_not_refreshed_expires_after_qrv_times_qqi_plus_mrt()
    {
        // QRV 1 × QQI 1 s + MRT 0.5 s = 1.5 s.
        using var relay = StartRelay("--qqic", "1", "--qrv", "1", "--mrc", "5");
        Assert.Equal(1.5, relay.WaitFor("started").GetProperty("tunnelTimeoutSeconds").GetDouble(), 3);
        using var gateway = NewGateway();
        var (mac, nonce) = Handshake(gateway, out _);
        gateway.SendUpdate(mac, nonce, new IgmpV3GroupRecord(IgmpRecordType.AllowNewSources, Group, [Source]));
        relay.WaitFor("upstream-join");

        var down = relay.WaitFor("tunnel-down", l => l.GetProperty("gateway").GetString() == gateway.Name, TimeSpan.FromSeconds(10));

        Assert.Equal("expired", down.GetProperty("reason").GetString());
        relay.WaitFor("upstream-leave");
        Assert.Equal(0, relay.WaitFor("status", l => l.GetProperty("expired").GetInt64() == 1).GetProperty("tunnels").GetInt32());
    }

    [Fact]
    public void Relay_stops_on_sigterm_and_prints_its_final_counters()
    {
        using var relay = StartRelay();
        using var gateway = NewGateway();
        gateway.SendDiscovery(1);
        gateway.ReceiveControl(Reply);

        Assert.Equal(0, relay.Stop());

        var summary = Assert.Single(relay.Events("summary"));
        Assert.Equal(1, summary.GetProperty("discoveries").GetInt64());
        Assert.Equal(0, summary.GetProperty("tunnels").GetInt32());
    }

    private LabProcess StartRelay(params string[] extra)
    {
        var relay = new LabProcess(_relayNs, ["relay", "--listen", $"{RelayAddress}:2268", "--upstream-interface", _relayIf,
            "--status-interval", "200ms", .. extra]);
        relay.WaitFor("started", timeout: TimeSpan.FromSeconds(30));
        return relay;
    }

    private FakeGateway NewGateway() => new(_gatewayThread, GatewayAddress, new IPEndPoint(RelayAddress, 2268));

    private static (ulong Mac, uint Nonce) Handshake(FakeGateway gateway, out AmtMembershipQuery query)
    {
        var nonce = FakeGateway.NewNonce();
        gateway.SendRequest(nonce);
        Assert.True(AmtMembershipQuery.TryRead(gateway.ReceiveControl(Reply), out var q, out var error), error.Message);
        query = q;
        return (q.ResponseMac, q.Nonce);
    }
}
