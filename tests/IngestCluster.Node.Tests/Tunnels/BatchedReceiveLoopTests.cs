using IngestCluster.Lab.Topology;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tests.Egress;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Tests.Tunnels;

/// <summary>
/// The Linux batched path (the epoll reactor, recvmmsg + sendmmsg) against a real kernel: the tunnel socket, a relay, a stranger and
/// the NativeEgress in one namespace (icbt-*, 10.204.0.0/24), a multicast member in the other.
/// </summary>
[Trait("Requires", "root")] // network namespaces; `--filter Requires!=root` runs the rest without root
public sealed class BatchedReceiveLoopTests : IDisposable
{
    private static readonly IPAddress Group = IPAddress.Parse("232.204.0.9");
    private readonly VethPair _link = new("icbt-", "10.204.0.1", "10.204.0.2");
    private readonly NamespaceThread _a;
    private readonly NamespaceThread _b;

    public BatchedReceiveLoopTests()
    {
        _a = new NamespaceThread(_link.NamespaceA);
        _b = new NamespaceThread(_link.NamespaceB);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _link.Dispose();
    }

    private Socket Udp(string address) => _a.Run(() =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return socket;
    });

    [Theory]
    [InlineData(EgressSocket.Packet)]
    [InlineData(EgressSocket.Raw)]
    public async Task Batches_forward_joined_data_with_ttl_decremented_and_count_every_drop(EgressSocket kind)
    {
        var metrics = new NodeMetrics();
        var flow = new SourceGroup(IPAddress.Parse(_link.AddressA), Group);
        using var tunnel = Udp(_link.AddressA);
        using var relay = Udp(_link.AddressA);
        using var stranger = Udp(_link.AddressA);
        using var egress = _a.Run(() => new NativeEgress(_link.InterfaceA, metrics, kind));
        using var member = _b.Run(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership,
                new MulticastOption(Group, NetworkInterfaceIndex(_link.InterfaceB)));
            socket.ReceiveTimeout = 5000;
            return socket;
        });
        var control = new List<byte[]>();
        var loop = new TunnelDataPath(tunnel, (IPEndPoint)relay.LocalEndPoint!, egress, m => { lock (control) { control.Add(m); } }, metrics)
        {
            Flows = JoinedFlowTable.Empty.With([flow], metrics),
        };
        using var reactor = new TunnelReactor(threads: 1, batch: 64, udpGro: false, metrics);
        int ControlCount()
        {
            lock (control)
            {
                return control.Count;
            }
        }
        await reactor.Add(loop);
        try
        {
            var data = TunnelReceiveLoopTests.DataMessage(flow, ttl: 9, payload: 1316);
            var advertisement = new AmtRelayAdvertisement(77, IPAddress.Parse(_link.AddressA));
            var bytes = new byte[advertisement.Length];
            advertisement.Write(bytes);
            for (int i = 0; i < 5; i++)
            {
                stranger.SendTo(data, tunnel.LocalEndPoint!);
            }
            for (int i = 0; i < 3; i++)
            {
                relay.SendTo(TunnelReceiveLoopTests.DataMessage(flow with { Group = IPAddress.Parse("232.204.0.10") }), tunnel.LocalEndPoint!);
            }
            relay.SendTo(bytes, tunnel.LocalEndPoint!);

            // In bursts of 20, each read at the member before the next: 200 back-to-back datagrams would overflow the
            // default socket buffers, which is the kernel's loss, not the loop's.
            var buffer = new byte[2048];
            int received = 0;
            for (int burst = 0; burst < 10; burst++)
            {
                for (int i = 0; i < 20; i++)
                {
                    relay.SendTo(data, tunnel.LocalEndPoint!);
                }
                for (int i = 0; i < 20; i++, received++)
                {
                    int length;
                    try
                    {
                        length = member.Receive(buffer);
                    }
                    catch (SocketException e)
                    {
                        throw new InvalidOperationException(
                            $"after {received} packets: {e.Message}; forwarded {metrics.Value("ingest_tunnel_data_packets_total")}, " +
                            $"egress {metrics.Value("ingest_egress_packets_total")}, send errors {loop.Dropped(TunnelDrop.SendError)}", e);
                    }
                    Assert.True(Ipv4Header.TryRead(buffer.AsSpan(0, length), out var header, out var error), error.ToString());
                    Assert.Equal(8, header.Ttl);
                    Assert.Equal(data.Length - AmtMulticastData.HeaderLength, length);
                }
            }
            // The member can read the last batch before the loop has counted it (the counters are added after
            // sendmmsg returns), so wait for every counter to reach its expected value, with a deadline; the
            // assertions below then check exact values, so an over-count fails too.
            var flowStats = Assert.Single(loop.Flows.Flows);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((loop.Dropped(TunnelDrop.WrongPeer) < 5 || loop.Dropped(TunnelDrop.NotJoined) < 3 || ControlCount() < 1
                    || flowStats.Packets < 200
                    || metrics.Value("ingest_egress_bytes_total") < 200 * (data.Length - AmtMulticastData.HeaderLength))
                   && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }
            Assert.Equal(5, loop.Dropped(TunnelDrop.WrongPeer));
            Assert.Equal(3, loop.Dropped(TunnelDrop.NotJoined));
            lock (control)
            {
                Assert.Equal(bytes, Assert.Single(control));
            }
            Assert.Equal(200, flowStats.Packets);
            Assert.Equal(200, metrics.Value("ingest_egress_packets_total"));
            Assert.Equal(200 * (data.Length - AmtMulticastData.HeaderLength), metrics.Value("ingest_egress_bytes_total"));
        }
        finally
        {
            await reactor.Remove(loop);
        }
    }

    private static int NetworkInterfaceIndex(string name) =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .First(n => n.Name == name).GetIPProperties().GetIPv4Properties().Index;
}
