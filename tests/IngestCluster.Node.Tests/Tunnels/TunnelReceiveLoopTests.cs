using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Tests.Tunnels;

/// <summary>The receive step of one tunnel (<see cref="TunnelDataPath"/>) and the portable one-at-a-time loop.</summary>
public sealed class TunnelReceiveLoopTests
{
    private static readonly SourceGroup Joined = new(IPAddress.Parse("10.91.4.2"), IPAddress.Parse("232.1.1.1"));
    private static readonly IPEndPoint Relay = new(IPAddress.Loopback, 2268);
    private readonly NodeMetrics _metrics = new();
    private readonly RecordingEgress _egress = new();
    private readonly List<byte[]> _control = [];

    private TunnelDataPath Loop(INativeEgress? egress = null)
    {
        var loop = new TunnelDataPath(new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp),
            Relay, egress ?? _egress, _control.Add, _metrics);
        loop.Flows = JoinedFlowTable.Empty.With([Joined]);
        return loop;
    }

    /// <summary>AMT Multicast Data carrying IPv4/UDP from <paramref name="source"/> to <paramref name="group"/>.</summary>
    internal static byte[] DataMessage(SourceGroup flow, byte ttl = 16, int payload = 1316)
    {
        var builder = new Ipv4HeaderBuilder
        {
            Ttl = ttl,
            Protocol = 17,
            Identification = 7,
            Source = Ipv4Header.FromAddress(flow.Source),
            Destination = Ipv4Header.FromAddress(flow.Group),
        };
        var ip = new byte[builder.Length + 8 + payload];
        builder.Write(ip, 8 + payload);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(builder.Length), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(builder.Length + 2), 5001);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(builder.Length + 4), (ushort)(8 + payload));
        var message = new byte[AmtMulticastData.HeaderLength + ip.Length];
        AmtMulticastData.Write(message, ip);
        return message;
    }

    [Fact]
    public void Data_for_a_joined_flow_leaves_with_its_ttl_decremented_and_a_valid_checksum()
    {
        var loop = Loop();
        loop.Handle(DataMessage(Joined, ttl: 16));

        var sent = Assert.Single(_egress.Sent);
        Assert.True(Ipv4Header.TryRead(sent, out var header, out var error), error.ToString());
        Assert.Equal(15, header.Ttl);
        Assert.Equal(Joined.Group, Ipv4Header.ToAddress(header.Destination));
        var stats = Assert.Single(loop.Flows.Flows);
        Assert.Equal(1, stats.Packets);
        Assert.Equal(sent.Length, stats.Bytes);
        Assert.NotEqual(0, loop.LastDataTickCount);
    }

    [Fact]
    public void Data_for_a_flow_that_was_not_joined_is_dropped_and_counted()
    {
        var loop = Loop();
        loop.Handle(DataMessage(Joined with { Group = IPAddress.Parse("232.1.1.2") }));

        Assert.Empty(_egress.Sent);
        Assert.Equal(1, loop.Dropped(TunnelDrop.NotJoined));
        Assert.Equal(0, loop.LastDataTickCount);
    }

    [Fact]
    public void Data_whose_ttl_would_reach_zero_is_dropped()
    {
        var loop = Loop();
        loop.Handle(DataMessage(Joined, ttl: 1));

        Assert.Empty(_egress.Sent);
        Assert.Equal(1, loop.Dropped(TunnelDrop.TtlExpired));
        Assert.Equal(1, Assert.Single(loop.Flows.Flows).TtlExpired);
    }

    [Fact]
    public void A_corrupted_inner_header_is_dropped_as_malformed()
    {
        var loop = Loop();
        var message = DataMessage(Joined);
        message[AmtMulticastData.HeaderLength + 8] ^= 0x40; // TTL changed without fixing the checksum
        loop.Handle(message);

        Assert.Empty(_egress.Sent);
        Assert.Equal(1, loop.Dropped(TunnelDrop.MalformedInner));
    }

    [Fact]
    public void Garbage_is_dropped_as_malformed_amt_and_never_reaches_the_actor()
    {
        var loop = Loop();
        loop.Handle([0x6]);
        loop.Handle([0x9, 0, 0, 0]);
        loop.Handle([]);

        Assert.Empty(_egress.Sent);
        Assert.Empty(_control);
        Assert.Equal(3, loop.Dropped(TunnelDrop.MalformedAmt));
    }

    [Fact]
    public void Control_messages_are_handed_to_the_actor_as_copies()
    {
        var loop = Loop();
        var advertisement = new byte[new AmtRelayAdvertisement(0x11223344, IPAddress.Parse("10.91.3.1")).Length];
        new AmtRelayAdvertisement(0x11223344, IPAddress.Parse("10.91.3.1")).Write(advertisement);
        loop.Handle(advertisement);

        Assert.Equal(advertisement, Assert.Single(_control));
        Assert.Empty(_egress.Sent);
    }

    [Fact]
    public void Without_an_egress_interface_data_is_counted_as_dropped()
    {
        var loop = new TunnelDataPath(new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp),
            Relay, null, _control.Add, _metrics) { Flows = JoinedFlowTable.Empty.With([Joined]) };
        loop.Handle(DataMessage(Joined));

        Assert.Equal(1, loop.Dropped(TunnelDrop.NoEgress));
    }

    [Fact]
    public async Task Datagrams_from_anyone_but_the_relay_are_dropped_on_a_real_socket()
    {
        using var tunnelSocket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        tunnelSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var relay = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        relay.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var loop = new TunnelDataPath(tunnelSocket, (IPEndPoint)relay.LocalEndPoint!, _egress, _control.Add, _metrics)
        {
            Flows = JoinedFlowTable.Empty.With([Joined]),
        };
        new TunnelReceiveLoop(loop).Start();

        stranger.SendTo(DataMessage(Joined), tunnelSocket.LocalEndPoint!);
        relay.SendTo(DataMessage(Joined), tunnelSocket.LocalEndPoint!);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((_egress.Count < 1 || loop.Dropped(TunnelDrop.WrongPeer) < 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.Equal(1, loop.Dropped(TunnelDrop.WrongPeer));
        Assert.Equal(1, _egress.Count);
    }

    internal sealed class RecordingEgress : INativeEgress
    {
        private readonly List<byte[]> _sent = [];

        public string InterfaceName => "test0";

        public List<byte[]> Sent
        {
            get
            {
                lock (_sent)
                {
                    return [.. _sent];
                }
            }
        }

        public int Count
        {
            get
            {
                lock (_sent)
                {
                    return _sent.Count;
                }
            }
        }

        public bool Send(ReadOnlySpan<byte> ipv4Datagram)
        {
            lock (_sent)
            {
                _sent.Add(ipv4Datagram.ToArray());
            }
            return true;
        }

        public void Dispose()
        {
        }
    }
}
