using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tests.Egress;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Amt;

namespace IngestCluster.Node.Tests.Tunnels;

/// <summary>
/// The epoll reactor against a real kernel, in network namespaces made and removed by each test (icdp-*,
/// 10.210.0.0/16 to 10.212.0.0/16): many tunnels through a fixed set of threads, registrations under load, and the
/// upstream binding of tunnel sockets. Every wait is for a counter, with a deadline.
/// </summary>
[Trait("Requires", "root")] // network namespaces; `--filter Requires!=root` runs the rest without root
public sealed class TunnelReactorTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Many_tunnels_through_one_reactor_forward_only_their_own_flows()
    {
        const int Tunnels = 40;
        const int Rounds = 10;
        using var link = new VethPair("icdp", "10.210.0.1", "10.210.0.2");
        using var a = new NamespaceThread(link.NamespaceA);
        using var b = new NamespaceThread(link.NamespaceB);
        b.Run(() =>
        {
            File.WriteAllText("/proc/sys/net/ipv4/igmp_max_memberships", "200");
            return 0;
        });
        var metrics = new NodeMetrics();
        var flows = Enumerable.Range(0, Tunnels)
            .Select(i => new SourceGroup(IPAddress.Parse($"10.210.100.{i + 1}"), IPAddress.Parse($"232.210.0.{i + 1}"))).ToArray();
        using var egress = a.Run(() => new NativeEgress(link.InterfaceA, metrics, EgressSocket.Packet)); // the node's default
        var tunnels = Enumerable.Range(0, Tunnels).Select(_ => Udp(a, link.AddressA)).ToArray();
        var relays = Enumerable.Range(0, Tunnels).Select(_ => Udp(a, link.AddressA)).ToArray();
        using var member = b.Run(() => new GroupCounter(link.InterfaceB, flows.Select(f => f.Group)));
        using var reactor = new TunnelReactor(threads: 2, batch: 64, udpGro: false, metrics);
        var paths = Enumerable.Range(0, Tunnels).Select(i => new TunnelDataPath(tunnels[i], (IPEndPoint)relays[i].LocalEndPoint!, egress, _ => { }, metrics)
        {
            Flows = JoinedFlowTable.Empty.With([flows[i]], metrics),
        }).ToArray();
        try
        {
            await Task.WhenAll(paths.Select(reactor.Add));
            Assert.Equal(Tunnels, reactor.Count);
            for (int round = 1; round <= Rounds; round++)
            {
                for (int i = 0; i < Tunnels; i++)
                {
                    int next = (i + 1) % Tunnels;
                    var to = tunnels[i].LocalEndPoint!;
                    relays[next].SendTo(TunnelReceiveLoopTests.DataMessage(flows[next], payload: 200), to); // another tunnel's relay: wrong peer
                    relays[i].SendTo(TunnelReceiveLoopTests.DataMessage(flows[next], payload: 200), to);    // another tunnel's flow: not joined here
                    relays[i].SendTo(new byte[] { 0x06, 0x00 }, to);                                        // truncated Multicast Data
                    var corrupt = TunnelReceiveLoopTests.DataMessage(flows[i], payload: 200);
                    corrupt[AmtMulticastData.HeaderLength + 8] ^= 0x40;                                      // TTL changed, checksum not
                    relays[i].SendTo(corrupt, to);
                    relays[i].SendTo(TunnelReceiveLoopTests.DataMessage(flows[i], payload: 200), to);
                }
                // Pace by what was forwarded, so no socket buffer overflows on a loaded machine.
                await Until(() => paths.All(p => p.Forwarded >= round), $"round {round}: forwarded {string.Join(",", paths.Select(p => p.Forwarded))}");
            }
            await Until(() => paths.All(p => p.Dropped(TunnelDrop.WrongPeer) >= Rounds && p.Dropped(TunnelDrop.NotJoined) >= Rounds
                                             && p.Dropped(TunnelDrop.MalformedAmt) >= Rounds && p.Dropped(TunnelDrop.MalformedInner) >= Rounds)
                              && flows.All(f => member.Count(f.Group) >= Rounds),
                "drops and member counts");

            for (int i = 0; i < Tunnels; i++)
            {
                Assert.Equal(Rounds, paths[i].Forwarded);
                Assert.Equal(Rounds, Assert.Single(paths[i].Flows.Flows).Packets);
                Assert.Equal(Rounds, paths[i].Dropped(TunnelDrop.WrongPeer));
                Assert.Equal(Rounds, paths[i].Dropped(TunnelDrop.NotJoined));
                Assert.Equal(Rounds, paths[i].Dropped(TunnelDrop.MalformedAmt));
                Assert.Equal(Rounds, paths[i].Dropped(TunnelDrop.MalformedInner));
                Assert.Equal(0, paths[i].Dropped(TunnelDrop.SendError));
            }
            // What reached the LAN: each group exactly its own tunnel's datagrams, nothing else.
            Assert.Equal(flows.Select(f => f.Group.ToString()).Order(), member.Groups().Select(g => g.ToString()).Order());
            Assert.All(flows, f => Assert.Equal(Rounds, member.Count(f.Group)));
            Assert.Equal(Tunnels * Rounds, metrics.Value("ingest_egress_packets_total"));
        }
        finally
        {
            foreach (var socket in tunnels.Concat(relays))
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Tunnels_added_and_removed_under_load_cost_the_others_nothing()
    {
        const int Steady = 8;
        const int PerSteady = 3000;
        const int Churned = 60;
        using var link = new VethPair("icdp", "10.211.0.1", "10.211.0.2");
        using var a = new NamespaceThread(link.NamespaceA);
        var metrics = new NodeMetrics();
        using var egress = a.Run(() => new NativeEgress(link.InterfaceA, metrics));
        using var reactor = new TunnelReactor(threads: 2, batch: 64, udpGro: false, metrics);
        var sockets = new List<Socket>();
        try
        {
            var steady = Enumerable.Range(0, Steady).Select(i =>
            {
                var tunnel = Udp(a, link.AddressA, receiveBuffer: 4 << 20);
                var relay = Udp(a, link.AddressA);
                sockets.AddRange([tunnel, relay]);
                var flow = new SourceGroup(IPAddress.Parse($"10.211.100.{i + 1}"), IPAddress.Parse($"232.211.0.{i + 1}"));
                var path = new TunnelDataPath(tunnel, (IPEndPoint)relay.LocalEndPoint!, egress, _ => { }, metrics)
                {
                    Flows = JoinedFlowTable.Empty.With([flow], metrics),
                };
                return (Tunnel: tunnel, Relay: relay, Path: path, Data: TunnelReceiveLoopTests.DataMessage(flow, payload: 200));
            }).ToArray();
            await Task.WhenAll(steady.Select(s => reactor.Add(s.Path)));

            var load = Task.Run(async () =>
            {
                for (int k = 1; k <= PerSteady; k++)
                {
                    foreach (var s in steady)
                    {
                        s.Relay.SendTo(s.Data, s.Tunnel.LocalEndPoint!);
                    }
                    if (k % 200 == 0)
                    {
                        // Keep at most a few hundred datagrams queued per socket.
                        int sent = k;
                        await Until(() => steady.All(s => s.Path.Forwarded >= sent - 400), $"load at {sent}");
                    }
                }
            });
            int churned = 0;
            while (!load.IsCompleted || churned < Churned)
            {
                var tunnel = Udp(a, link.AddressA);
                var relay = Udp(a, link.AddressA);
                var flow = new SourceGroup(IPAddress.Parse("10.211.200.1"), IPAddress.Parse($"232.211.1.{churned % 250 + 1}"));
                var path = new TunnelDataPath(tunnel, (IPEndPoint)relay.LocalEndPoint!, egress, _ => { }, metrics)
                {
                    Flows = JoinedFlowTable.Empty.With([flow], metrics),
                };
                await reactor.Add(path);
                var data = TunnelReceiveLoopTests.DataMessage(flow, payload: 200);
                for (int i = 0; i < 5; i++)
                {
                    relay.SendTo(data, tunnel.LocalEndPoint!);
                }
                await Until(() => path.Forwarded == 5, $"churned tunnel {churned}");
                await reactor.Remove(path);
                tunnel.Dispose();
                relay.Dispose();
                churned++;
            }
            await load;
            await Until(() => steady.All(s => s.Path.Forwarded >= PerSteady), "steady tunnels");

            Assert.All(steady, s =>
            {
                Assert.Equal(PerSteady, s.Path.Forwarded);
                Assert.Equal(PerSteady, Assert.Single(s.Path.Flows.Flows).Packets);
                Assert.All(Enum.GetValues<TunnelDrop>(), d => Assert.Equal(0, s.Path.Dropped(d)));
            });
            Assert.True(churned >= Churned);
            Assert.Equal(Steady, reactor.Count);
            Assert.Equal(2, reactor.ThreadCount);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_tunnel_socket_bound_to_one_upstream_interface_does_not_receive_what_arrives_on_another()
    {
        // A is the node, with two upstreams X (10.212.1.0/24) and Y (10.212.2.0/24) to B, where the relay is.
        using var link = new VethPair("icdp", "10.212.1.1", "10.212.1.2");
        var (yA, _) = link.AddLink('y', "10.212.2.1", "10.212.2.2");
        using var a = new NamespaceThread(link.NamespaceA);
        using var b = new NamespaceThread(link.NamespaceB);
        var metrics = new NodeMetrics();
        using var relay = Udp(b, "0.0.0.0");
        var relayOnX = new IPEndPoint(IPAddress.Parse(link.AddressB), ((IPEndPoint)relay.LocalEndPoint!).Port);
        var options = new TunnelSocketOptions { Interface = link.InterfaceA };
        using var tunnel = a.Run(() => options.OpenSocket(relayOnX));
        int port = ((IPEndPoint)tunnel.LocalEndPoint!).Port;
        int control = 0;
        var path = new TunnelDataPath(tunnel, relayOnX, null, _ => Interlocked.Increment(ref control), metrics);
        using var reactor = new TunnelReactor(threads: 1, batch: 64, udpGro: false, metrics);
        await reactor.Add(path);
        var advertisement = new byte[new AmtRelayAdvertisement(5, IPAddress.Parse(link.AddressB)).Length];
        new AmtRelayAdvertisement(5, IPAddress.Parse(link.AddressB)).Write(advertisement);

        long noPortsBefore = a.Run(UdpNoPorts);
        for (int i = 0; i < 3; i++)
        {
            relay.SendTo(advertisement, new IPEndPoint(IPAddress.Parse("10.212.2.1"), port)); // arrives on Y
        }
        // The kernel found no socket for them on Y: its NoPorts counter says so.
        await Until(() => a.Run(UdpNoPorts) >= noPortsBefore + 3, "NoPorts for the datagrams that came in on Y");
        relay.SendTo(advertisement, new IPEndPoint(IPAddress.Parse(link.AddressA), port)); // arrives on X
        await Until(() => Volatile.Read(ref control) >= 1, "the advertisement that came in on X");

        Assert.Equal(1, Volatile.Read(ref control));
        Assert.Equal(noPortsBefore + 3, a.Run(UdpNoPorts));
        Assert.All(Enum.GetValues<TunnelDrop>(), d => Assert.Equal(0, path.Dropped(d)));
        // And what the tunnel sends leaves by X, whatever the routing table prefers for the relay's Y address.
        tunnel.SendTo(advertisement, relayOnX);
        var buffer = new byte[256];
        relay.ReceiveTimeout = 10_000;
        var from = new IPEndPoint(IPAddress.Any, 0) as EndPoint;
        relay.ReceiveFrom(buffer, ref from);
        Assert.Equal(link.AddressA, ((IPEndPoint)from).Address.ToString());
        await reactor.Remove(path);
        _ = yA;
    }

    [Fact]
    public void A_tunnel_socket_bound_to_a_source_address_sends_from_it_and_receives_only_on_it()
    {
        using var link = new VethPair("icdp", "10.213.1.1", "10.213.1.2");
        link.AddLink('y', "10.213.2.1", "10.213.2.2");
        using var a = new NamespaceThread(link.NamespaceA);
        using var b = new NamespaceThread(link.NamespaceB);
        using var relay = Udp(b, link.AddressB);
        var options = new TunnelSocketOptions { SourceAddress = IPAddress.Parse("10.213.2.1") };
        using var tunnel = a.Run(() => options.OpenSocket((IPEndPoint)relay.LocalEndPoint!));
        Assert.Equal("10.213.2.1", ((IPEndPoint)tunnel.LocalEndPoint!).Address.ToString());

        tunnel.SendTo(new byte[] { 1, 2, 3 }, relay.LocalEndPoint!);
        var buffer = new byte[64];
        relay.ReceiveTimeout = 10_000;
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        relay.ReceiveFrom(buffer, ref from);
        Assert.Equal("10.213.2.1", ((IPEndPoint)from).Address.ToString());

        int port = ((IPEndPoint)tunnel.LocalEndPoint!).Port;
        long noPortsBefore = a.Run(UdpNoPorts);
        relay.SendTo(new byte[] { 9 }, new IPEndPoint(IPAddress.Parse(link.AddressA), port)); // the other address: refused
        relay.SendTo(new byte[] { 7 }, new IPEndPoint(IPAddress.Parse("10.213.2.1"), port));
        tunnel.ReceiveTimeout = 10_000;
        int length = tunnel.Receive(buffer);
        Assert.Equal(new byte[] { 7 }, buffer[..length]);
        var clock = Stopwatch.StartNew();
        while (a.Run(UdpNoPorts) < noPortsBefore + 1 && clock.Elapsed < Deadline)
        {
            Thread.Sleep(10);
        }
        Assert.Equal(noPortsBefore + 1, a.Run(UdpNoPorts));
        Assert.Equal(0, tunnel.Available);
    }

    private static Socket Udp(NamespaceThread ns, string address, int receiveBuffer = 0) => ns.Run(() =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        if (receiveBuffer > 0)
        {
            TunnelSocketOptions.SetReceiveBuffer(socket, receiveBuffer);
        }
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return socket;
    });

    /// <summary>Udp NoPorts of the calling thread's namespace (/proc/thread-self: /proc/net is the process's).</summary>
    private static long UdpNoPorts()
    {
        var lines = File.ReadAllLines("/proc/thread-self/net/snmp").Where(l => l.StartsWith("Udp: ", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ');
        var values = lines[1].Split(' ');
        return long.Parse(values[Array.IndexOf(names, "NoPorts")], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Deadline)
            {
                throw new TimeoutException($"not within {Deadline}: {what}");
            }
            await Task.Delay(5);
        }
    }

    /// <summary>A multicast member in its namespace: a raw UDP socket joined to every group, counting datagrams by
    /// destination on its own thread.</summary>
    private sealed class GroupCounter : IDisposable
    {
        private readonly Socket _socket;
        private readonly Dictionary<uint, int> _counts = [];
        private readonly Thread _thread;
        private volatile bool _stopping;

        public GroupCounter(string interfaceName, IEnumerable<IPAddress> groups)
        {
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
            TunnelSocketOptions.SetReceiveBuffer(_socket, 8 << 20);
            int index = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .First(n => n.Name == interfaceName).GetIPProperties().GetIPv4Properties().Index;
            foreach (var group in groups)
            {
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group, index));
            }
            _socket.ReceiveTimeout = 200;
            _thread = new Thread(Run) { IsBackground = true, Name = "group-counter" };
            _thread.Start();
        }

        public int Count(IPAddress group)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(BinaryPrimitives.ReadUInt32BigEndian(group.GetAddressBytes()));
            }
        }

        public IReadOnlyList<IPAddress> Groups()
        {
            lock (_counts)
            {
                return [.. _counts.Keys.Select(k => new IPAddress(BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(k))))];
            }
        }

        private void Run()
        {
            var buffer = new byte[65_536];
            while (!_stopping)
            {
                int length;
                try
                {
                    length = _socket.Receive(buffer);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    continue;
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }
                if (length >= 20)
                {
                    uint destination = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(16));
                    lock (_counts)
                    {
                        _counts[destination] = _counts.GetValueOrDefault(destination) + 1;
                    }
                }
            }
        }

        public void Dispose()
        {
            _stopping = true;
            _thread.Join(TimeSpan.FromSeconds(2));
            _socket.Dispose();
        }
    }
}

/// <summary>The pure part of the tunnel sockets' options; no root needed.</summary>
public sealed class TunnelSocketOptionsTests
{
    [Fact]
    public void Receive_buffer_follows_the_rate_between_floor_and_ceiling()
    {
        var options = new TunnelSocketOptions
        {
            ReceiveBufferFloor = 128 << 10,
            ReceiveBufferCeiling = 4 << 20,
            ReceiveBufferTime = TimeSpan.FromMilliseconds(200),
        };
        Assert.Equal(128 << 10, options.ReceiveBufferFor(0));
        Assert.Equal(128 << 10, options.ReceiveBufferFor(100_000)); // 20 kB wanted
        Assert.Equal(1_000_000, options.ReceiveBufferFor(5_000_000)); // 40 Mb/s: 200 ms of it
        Assert.Equal(4 << 20, options.ReceiveBufferFor(1_250_000_000)); // 10 Gb/s: the ceiling
        Assert.Equal(64 << 10, (options with { ReceiveBufferCeiling = 64 << 10 }).ReceiveBufferFor(0)); // ceiling below floor wins
    }
}
