using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Lab;

/// <summary>
/// A small AMT relay (RFC 7450 §5.3) for the lab.
/// <list type="bullet">
/// <item>Control, on one thread with one UDP socket on <c>--listen</c>: Relay Discovery → Advertisement (nonce
/// echoed, <c>--advertise</c> address); Request → Membership Query (MAC, nonce echoed; G = 0 like amtrelayd, or
/// G = 1 with the gateway's address and port as seen when <c>--gateway-fields</c> is given; L = 1 with <c>--limited-capacity</c> or when a new tunnel would pass
/// <c>--max-tunnels</c>) carrying an IGMPv3 general query in IPv4 with Router Alert (IHL 6, TTL 1, TOS 0xC0, to
/// 224.0.0.1, MRC, QRV and QQIC as configured: 100, 2, 20 by default); Membership Update → applied only when MAC and nonce verify
/// (<see cref="RelayTunnelTable"/>); Teardown → removes the tunnel when its MAC and nonce verify. Tunnels not
/// refreshed within QRV × QQI + MRT expire.</item>
/// <item>Upstream: one raw socket (IPPROTO_UDP, so every datagram arrives with its IPv4 header) bound to the
/// upstream interface, holding one IP_ADD_SOURCE_MEMBERSHIP per joined (S,G); the kernel filters it to those.
/// The WHOLE received datagram is forwarded unchanged (TTL as received) inside AMT Multicast Data; nothing is
/// rebuilt.</item>
/// <item>Data, on its own thread: receive into a reused buffer at offset 2, write the 2-byte AMT header in
/// front, send to every gateway joined to that (S,G) with reused <see cref="SocketAddress"/>es. No allocation
/// per packet.</item>
/// </list>
/// </summary>
internal sealed class AmtRelay : IDisposable
{
    private const byte QueryTos = 0xC0;
    private static readonly uint AllSystems = 0xE0000001; // 224.0.0.1

    private readonly RelaySettings _settings;
    private readonly StatusWriter _status;
    private readonly TimeProvider _time;
    private readonly RelayTunnelTable _table;
    private readonly Socket _control;
    private readonly Socket _upstream;
    private readonly IPAddress _upstreamAddress;
    private readonly uint _advertise;

    private volatile Dictionary<ulong, SocketAddress[]> _forwarding = [];

    // Counters: control-thread ones are plain, data-thread ones interlocked (read by the control thread).
    private long _discoveries, _requests, _queries, _updates, _teardowns, _malformed, _unknownType, _ignoredRecords;
    private long _rejectedBadMac, _rejectedNonce, _rejectedCapacity, _expired, _upstreamJoins, _upstreamLeaves;
    private long _forwarded, _forwardedBytes, _received, _unjoined, _sendErrors;
    private long _dataPathAllocatedBytes = -1;

    public AmtRelay(RelaySettings settings, StatusWriter status, TimeProvider time)
    {
        _settings = settings;
        _status = status;
        _time = time;
        var queryInterval = TimeSpan.FromSeconds(IgmpV3Query.DecodeCode(settings.Qqic));
        var maxResponse = TimeSpan.FromSeconds(IgmpV3Query.DecodeCode(settings.MaxRespCode) / 10.0);
        TunnelTimeout = settings.Qrv * queryInterval + maxResponse;
        _table = new RelayTunnelTable(settings.Secret, TunnelTimeout, settings.MaxTunnels, time);
        _advertise = NetworkInterfaces.ToUInt32(settings.Advertise);
        _upstreamAddress = NetworkInterfaces.Ipv4AddressOf(settings.UpstreamInterface);

        _control = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _upstream = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
        try
        {
            _control.Bind(settings.Listen);
            NetworkInterfaces.BindToDevice(_upstream, settings.UpstreamInterface);
        }
        catch
        {
            _control.Dispose();
            _upstream.Dispose();
            throw;
        }
    }

    /// <summary>QRV × QQI + MRT: how long a tunnel lives without a valid Update.</summary>
    public TimeSpan TunnelTimeout { get; }

    public IPEndPoint ControlEndPoint => (IPEndPoint)_control.LocalEndPoint!;

    public async Task<int> RunAsync()
    {
        using var lifetime = new LabLifetime(_settings.Duration);
        await RunAsync(lifetime.Stopping).ConfigureAwait(false);
        return 0;
    }

    public Task RunAsync(CancellationToken stopping)
    {
        _status.Write("started", json =>
        {
            json.WriteString("role", "relay");
            json.WriteString("listen", ControlEndPoint.ToString());
            json.WriteString("advertise", _settings.Advertise.ToString());
            json.WriteString("upstreamInterface", _settings.UpstreamInterface);
            json.WriteString("upstreamAddress", _upstreamAddress.ToString());
            json.WriteNumber("qqic", _settings.Qqic);
            json.WriteNumber("qrv", _settings.Qrv);
            json.WriteNumber("mrc", _settings.MaxRespCode);
            json.WriteNumber("tunnelTimeoutSeconds", TunnelTimeout.TotalSeconds);
        });
        var control = StartThread("amt-relay-control", () => ControlLoop(stopping));
        var data = StartThread("amt-relay-data", () => DataLoop(stopping));
        return Task.WhenAll(control, data).ContinueWith(_ => WriteCounters("summary"), TaskScheduler.Default);
    }

    private static Task StartThread(string name, Action loop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                loop();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private void ControlLoop(CancellationToken stopping)
    {
        var buffer = new byte[65536];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var nextHousekeeping = Stopwatch.GetTimestamp();
        var nextStatus = _settings.StatusInterval > TimeSpan.Zero ? Stopwatch.GetTimestamp() : long.MaxValue;
        while (!stopping.IsCancellationRequested)
        {
            if (_control.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
            {
                try
                {
                    var length = _control.ReceiveFrom(buffer, SocketFlags.None, from);
                    HandleControl(buffer.AsSpan(0, length), from);
                }
                catch (SocketException)
                {
                    // ICMP errors from earlier sends surface here; nothing to do.
                }
            }
            var now = Stopwatch.GetTimestamp();
            if (now >= nextHousekeeping)
            {
                nextHousekeeping = now + Stopwatch.Frequency / 4;
                var changes = new RelayChanges();
                _table.Expire(changes);
                Publish(changes);
            }
            if (now >= nextStatus)
            {
                nextStatus = now + (long)(_settings.StatusInterval.TotalSeconds * Stopwatch.Frequency);
                WriteCounters("status");
            }
        }
    }

    private void HandleControl(ReadOnlySpan<byte> message, SocketAddress from)
    {
        var gateway = new GatewayEndpoint(
            (uint)(from[4] << 24 | from[5] << 16 | from[6] << 8 | from[7]),
            (ushort)(from[2] << 8 | from[3]));
        if (!AmtMessage.TryReadType(message, out var type, out var error))
        {
            Malformed(gateway, "type", error);
            return;
        }
        switch (type)
        {
            case AmtMessageType.RelayDiscovery:
                if (!AmtRelayDiscovery.TryRead(message, out var discovery, out error))
                {
                    Malformed(gateway, "discovery", error);
                    return;
                }
                _discoveries++;
                Reply(new AmtRelayAdvertisement(discovery.Nonce, _settings.Advertise).Write, new AmtRelayAdvertisement(discovery.Nonce, _settings.Advertise).Length, from);
                break;
            case AmtMessageType.Request:
                if (!AmtRequest.TryRead(message, out var request, out error))
                {
                    Malformed(gateway, "request", error);
                    return;
                }
                _requests++;
                if (request.MldRequested)
                {
                    _unknownType++;
                    return;
                }
                SendQuery(gateway, request.Nonce, from);
                break;
            case AmtMessageType.MembershipUpdate:
                HandleUpdate(message, gateway);
                break;
            case AmtMessageType.Teardown:
                HandleTeardown(message, gateway);
                break;
            default:
                _unknownType++;
                break;
        }
    }

    private void SendQuery(GatewayEndpoint gateway, uint nonce, SocketAddress to)
    {
        var mac = _table.IssueQuery(gateway, nonce);
        var query = new IgmpV3Query(_settings.MaxRespCode, IPAddress.Any, false, _settings.Qrv, _settings.Qqic, []);
        var header = new Ipv4HeaderBuilder
        {
            Tos = QueryTos,
            Ttl = 1,
            Protocol = 2,
            RouterAlert = true,
            Source = _advertise,
            Destination = AllSystems,
        };
        var datagram = new byte[header.Length + query.Length];
        var written = header.Write(datagram, query.Length);
        query.Write(datagram.AsSpan(written));
        var limited = _settings.LimitedCapacity || _table.AtCapacity(gateway);
        var message = _settings.GatewayFields
            ? new AmtMembershipQuery(limited, mac, nonce, datagram, gateway.Port, NetworkInterfaces.FromUInt32(gateway.Address))
            : new AmtMembershipQuery(limited, mac, nonce, datagram, null, null);
        Reply(message.Write, message.Length, to);
        _queries++;
    }

    private void HandleUpdate(ReadOnlySpan<byte> message, GatewayEndpoint gateway)
    {
        if (!AmtMembershipUpdate.TryRead(message, out var update, out var error))
        {
            Malformed(gateway, "update", error);
            return;
        }
        if (!IgmpV3Datagram.TryReadReport(update.EncapsulatedReport.Span, out var report, out error))
        {
            Malformed(gateway, "report", error);
            return;
        }
        _updates++;
        var changes = new RelayChanges();
        var verdict = _table.ApplyUpdate(gateway, update.ResponseMac, update.Nonce, report, changes);
        if (verdict != RelayRejection.None)
        {
            Rejected(gateway, "update", verdict, update.ResponseMac, update.Nonce);
            return;
        }
        _ignoredRecords += changes.IgnoredRecords;
        Publish(changes);
    }

    private void HandleTeardown(ReadOnlySpan<byte> message, GatewayEndpoint sender)
    {
        if (!AmtTeardown.TryRead(message, out var teardown, out var error))
        {
            Malformed(sender, "teardown", error);
            return;
        }
        _teardowns++;
        if (teardown.GatewayAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            _unknownType++;
            return;
        }
        // The Teardown names the tunnel by the gateway's old address and port, which the MAC was computed over.
        var tunnel = new GatewayEndpoint(NetworkInterfaces.ToUInt32(teardown.GatewayAddress), teardown.GatewayPort);
        var verdict = _table.Verify(tunnel, teardown.ResponseMac, teardown.Nonce);
        if (verdict != RelayRejection.None)
        {
            Rejected(tunnel, "teardown", verdict, teardown.ResponseMac, teardown.Nonce);
            return;
        }
        var changes = new RelayChanges();
        if (_table.Remove(tunnel, changes))
        {
            _status.Write("tunnel-down", json =>
            {
                json.WriteString("gateway", tunnel.ToString());
                json.WriteString("reason", "teardown");
            });
        }
        Publish(changes);
    }

    /// <summary>Applies a change set to the upstream socket and the data path, and reports it.</summary>
    private void Publish(RelayChanges changes)
    {
        foreach (var gateway in changes.TunnelsCreated)
        {
            _status.Write("tunnel-up", json => json.WriteString("gateway", gateway.ToString()));
        }
        foreach (var channel in changes.UpstreamJoins)
        {
            try
            {
                NetworkInterfaces.AddSourceMembership(_upstream, NetworkInterfaces.FromUInt32(channel.Source),
                    NetworkInterfaces.FromUInt32(channel.Group), _upstreamAddress);
                _upstreamJoins++;
                WriteChannel("upstream-join", channel, null);
            }
            catch (SocketException e)
            {
                WriteChannel("upstream-join-failed", channel, e.Message);
            }
        }
        foreach (var (gateway, channel) in changes.Joined)
        {
            WriteMembership("join", gateway, channel);
        }
        if (changes.ForwardingChanged || changes.TunnelsExpired.Count > 0)
        {
            var snapshot = new Dictionary<ulong, SocketAddress[]>();
            foreach (var (key, gateways) in _table.Forwarding)
            {
                snapshot[key] = [.. gateways.Select(g => new IPEndPoint(NetworkInterfaces.FromUInt32(g.Address), g.Port).Serialize())];
            }
            _forwarding = snapshot;
        }
        foreach (var (gateway, channel) in changes.Left)
        {
            WriteMembership("leave", gateway, channel);
        }
        foreach (var channel in changes.UpstreamLeaves)
        {
            try
            {
                NetworkInterfaces.DropSourceMembership(_upstream, NetworkInterfaces.FromUInt32(channel.Source),
                    NetworkInterfaces.FromUInt32(channel.Group), _upstreamAddress);
                _upstreamLeaves++;
                WriteChannel("upstream-leave", channel, null);
            }
            catch (SocketException e)
            {
                WriteChannel("upstream-leave-failed", channel, e.Message);
            }
        }
        foreach (var gateway in changes.TunnelsExpired)
        {
            _expired++;
            _status.Write("tunnel-down", json =>
            {
                json.WriteString("gateway", gateway.ToString());
                json.WriteString("reason", "expired");
            });
        }
    }

    private void DataLoop(CancellationToken stopping)
    {
        var buffer = new byte[AmtMulticastData.HeaderLength + 65536];
        buffer[0] = (byte)AmtMessageType.MulticastData;
        buffer[1] = 0;
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        while (!stopping.IsCancellationRequested)
        {
            // What this thread allocated in total since it started (JIT warm-up included): the summary shows it.
            Volatile.Write(ref _dataPathAllocatedBytes, GC.GetAllocatedBytesForCurrentThread() - allocatedAtStart);
            if (!_upstream.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
            {
                continue;
            }
            int length;
            try
            {
                length = _upstream.ReceiveFrom(buffer.AsSpan(AmtMulticastData.HeaderLength), SocketFlags.None, from);
            }
            catch (SocketException)
            {
                continue;
            }
            Interlocked.Increment(ref _received);
            var datagram = buffer.AsSpan(AmtMulticastData.HeaderLength, length);
            if (!Ipv4Header.TryRead(datagram, out var header, out _))
            {
                Interlocked.Increment(ref _malformed);
                continue;
            }
            if (!_forwarding.TryGetValue(((ulong)header.Source << 32) | header.Destination, out var gateways))
            {
                Interlocked.Increment(ref _unjoined);
                continue;
            }
            FixUdpChecksum(datagram[..header.TotalLength], header);
            var message = buffer.AsSpan(0, AmtMulticastData.HeaderLength + header.TotalLength);
            foreach (var gateway in gateways)
            {
                try
                {
                    _control.SendTo(message, SocketFlags.None, gateway);
                    Interlocked.Increment(ref _forwarded);
                    Interlocked.Add(ref _forwardedBytes, message.Length);
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref _sendErrors);
                }
            }
        }
    }

    /// <summary>
    /// A datagram read from a raw socket on a veth (or any NIC with transmit checksum offload) can carry a partial
    /// UDP checksum that the sender's kernel left for the hardware to finish. Forwarded as is, every receiver
    /// drops it. A relay must put a valid checksum on what it tunnels (amtrelayd sends 0, "none"); we compute it.
    /// </summary>
    private static void FixUdpChecksum(Span<byte> datagram, Ipv4Header header)
    {
        const int udpProtocol = 17;
        if (header.Protocol != udpProtocol || header.IsFragment || datagram.Length < header.HeaderLength + 8)
        {
            return;
        }
        var udp = datagram[header.HeaderLength..];
        int udpLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength > udp.Length)
        {
            return;
        }
        udp[6] = 0;
        udp[7] = 0;
        uint pseudo = (header.Source >> 16) + (header.Source & 0xFFFF) + (header.Destination >> 16) + (header.Destination & 0xFFFF) +
            udpProtocol + (uint)udpLength;
        ushort checksum = InternetChecksum.Compute(udp[..udpLength], pseudo);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    private void Reply(Func<Span<byte>, int> write, int length, SocketAddress to)
    {
        var bytes = new byte[length];
        var written = write(bytes);
        if (_settings.ReplyDelay > TimeSpan.Zero)
        {
            // A relay that far away (--reply-delay): the answer leaves later, off the control thread.
            var copy = new SocketAddress(to.Family, to.Size);
            to.Buffer.CopyTo(copy.Buffer);
            _ = Task.Delay(_settings.ReplyDelay).ContinueWith(_ => Send(bytes, written, copy), TaskScheduler.Default);
            return;
        }
        Send(bytes, written, to);
    }

    private void Send(byte[] bytes, int written, SocketAddress to)
    {
        try
        {
            _control.SendTo(bytes.AsSpan(0, written), SocketFlags.None, to);
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref _sendErrors);
        }
        catch (ObjectDisposedException)
        {
            // A delayed answer after the relay stopped.
        }
    }

    private void Malformed(GatewayEndpoint gateway, string what, ParseError error)
    {
        _malformed++;
        _status.Write("malformed", json =>
        {
            json.WriteString("gateway", gateway.ToString());
            json.WriteString("message", what);
            json.WriteString("kind", error.Kind.ToString());
            json.WriteNumber("offset", error.Offset);
            json.WriteString("error", error.Message);
        });
    }

    private void Rejected(GatewayEndpoint gateway, string what, RelayRejection reason, ulong mac, uint nonce)
    {
        switch (reason)
        {
            case RelayRejection.BadMac: _rejectedBadMac++; break;
            case RelayRejection.UnknownNonce: _rejectedNonce++; break;
            default: _rejectedCapacity++; break;
        }
        _status.Write("rejected", json =>
        {
            json.WriteString("gateway", gateway.ToString());
            json.WriteString("message", what);
            json.WriteString("reason", reason switch
            {
                RelayRejection.BadMac => "bad_mac",
                RelayRejection.UnknownNonce => "unknown_nonce",
                _ => "capacity",
            });
            json.WriteString("mac", RelayCommand.Hex(mac));
            json.WriteNumber("nonce", nonce);
        });
    }

    private void WriteChannel(string eventName, Channel channel, string? error) =>
        _status.Write(eventName, json =>
        {
            json.WriteString("source", NetworkInterfaces.FromUInt32(channel.Source).ToString());
            json.WriteString("group", NetworkInterfaces.FromUInt32(channel.Group).ToString());
            if (error is not null)
            {
                json.WriteString("error", error);
            }
        });

    private void WriteMembership(string eventName, GatewayEndpoint gateway, Channel channel) =>
        _status.Write(eventName, json =>
        {
            json.WriteString("gateway", gateway.ToString());
            json.WriteString("source", NetworkInterfaces.FromUInt32(channel.Source).ToString());
            json.WriteString("group", NetworkInterfaces.FromUInt32(channel.Group).ToString());
        });

    private void WriteCounters(string eventName)
    {
        // Read on the control thread (or after it ended): the table and the plain counters are its own.
        var tunnels = _table.TunnelCount;
        var channels = _table.ChannelCount;
        var memberships = _table.MembershipCount;
        _status.Write(eventName, json =>
        {
            json.WriteString("role", "relay");
            json.WriteNumber("tunnels", tunnels);
            json.WriteNumber("channels", channels);
            json.WriteNumber("joins", memberships);
            json.WriteNumber("forwarded", Interlocked.Read(ref _forwarded));
            json.WriteNumber("forwardedBytes", Interlocked.Read(ref _forwardedBytes));
            json.WriteNumber("upstreamReceived", Interlocked.Read(ref _received));
            json.WriteNumber("upstreamUnjoined", Interlocked.Read(ref _unjoined));
            json.WriteNumber("sendErrors", Interlocked.Read(ref _sendErrors));
            json.WriteNumber("rejected", _rejectedBadMac + _rejectedNonce + _rejectedCapacity);
            json.WriteNumber("rejectedBadMac", _rejectedBadMac);
            json.WriteNumber("rejectedUnknownNonce", _rejectedNonce);
            json.WriteNumber("rejectedCapacity", _rejectedCapacity);
            json.WriteNumber("malformed", Interlocked.Read(ref _malformed));
            json.WriteNumber("unknownType", _unknownType);
            json.WriteNumber("ignoredRecords", _ignoredRecords);
            json.WriteNumber("discoveries", _discoveries);
            json.WriteNumber("requests", _requests);
            json.WriteNumber("queries", _queries);
            json.WriteNumber("updates", _updates);
            json.WriteNumber("teardowns", _teardowns);
            json.WriteNumber("expired", _expired);
            json.WriteNumber("upstreamJoins", _upstreamJoins);
            json.WriteNumber("upstreamLeaves", _upstreamLeaves);
            json.WriteNumber("dataPathAllocatedBytes", Volatile.Read(ref _dataPathAllocatedBytes));
        });
    }

    public void Dispose()
    {
        _control.Dispose();
        _upstream.Dispose();
    }
}
