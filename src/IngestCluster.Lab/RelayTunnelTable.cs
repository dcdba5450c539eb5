using IngestCluster.Protocols.Igmp;

namespace IngestCluster.Lab;

/// <summary>A gateway's tunnel end as the relay sees it: source address (big-endian number) and UDP port.</summary>
internal readonly record struct GatewayEndpoint(uint Address, ushort Port)
{
    public override string ToString() => $"{NetworkInterfaces.FromUInt32(Address)}:{Port}";
}

/// <summary>A source-specific channel as two big-endian address numbers.</summary>
internal readonly record struct Channel(uint Source, uint Group)
{
    public ulong Key => ((ulong)Source << 32) | Group;

    public override string ToString() => $"({NetworkInterfaces.FromUInt32(Source)},{NetworkInterfaces.FromUInt32(Group)})";
}

/// <summary>Why the relay refused a Membership Update or Teardown.</summary>
internal enum RelayRejection
{
    None,
    /// <summary>The MAC is not the one this relay computes for the nonce and the sender's address and port.</summary>
    BadMac,
    /// <summary>The MAC verifies but the nonce is not one of the last two this relay gave that gateway.</summary>
    UnknownNonce,
    /// <summary>A new tunnel would pass --max-tunnels.</summary>
    Capacity,
}

/// <summary>What one Update or expiry changed: memberships per tunnel and the upstream (S,G) joins and leaves.</summary>
internal sealed class RelayChanges
{
    public List<(GatewayEndpoint Gateway, Channel Channel)> Joined { get; } = [];
    public List<(GatewayEndpoint Gateway, Channel Channel)> Left { get; } = [];
    public List<Channel> UpstreamJoins { get; } = [];
    public List<Channel> UpstreamLeaves { get; } = [];
    public List<GatewayEndpoint> TunnelsCreated { get; } = [];
    public List<GatewayEndpoint> TunnelsExpired { get; } = [];
    public int IgnoredRecords { get; set; }

    public bool ForwardingChanged => Joined.Count + Left.Count > 0;
}

/// <summary>
/// The relay's tunnels and their (S,G) memberships (RFC 7450 §5.3), without sockets: which nonce each gateway was
/// last given, whether an Update's MAC and nonce verify, how its IGMPv3 records change the tunnel's channels, which
/// channels the relay must join or leave upstream, and when an unrefreshed tunnel expires. Not thread-safe: one
/// control loop owns it; the data path reads <see cref="Forwarding"/>, an immutable snapshot replaced on change.
/// </summary>
internal sealed class RelayTunnelTable(byte[] secret, TimeSpan tunnelTimeout, int maxTunnels, TimeProvider time)
{
    private sealed class Tunnel
    {
        public HashSet<Channel> Channels { get; } = [];
        public DateTimeOffset RefreshedAt { get; set; }
    }

    private readonly record struct IssuedNonces(uint Latest, uint Previous, bool HasPrevious, DateTimeOffset At);

    private readonly Dictionary<GatewayEndpoint, Tunnel> _tunnels = [];
    private readonly Dictionary<GatewayEndpoint, IssuedNonces> _nonces = [];
    private readonly Dictionary<Channel, int> _channelTunnels = [];

    /// <summary>Per channel, the gateways to forward its datagrams to. Replaced (never changed) on every change.</summary>
    public IReadOnlyDictionary<ulong, GatewayEndpoint[]> Forwarding { get; private set; } = new Dictionary<ulong, GatewayEndpoint[]>();

    public int TunnelCount => _tunnels.Count;

    /// <summary>Channels joined upstream (joined by at least one tunnel).</summary>
    public int ChannelCount => _channelTunnels.Count;

    /// <summary>Tunnel memberships: the sum over tunnels of their channels.</summary>
    public int MembershipCount => _tunnels.Values.Sum(t => t.Channels.Count);

    public TimeSpan TunnelTimeout => tunnelTimeout;

    /// <summary>True when a gateway that has no tunnel yet would be refused (the Query's L flag).</summary>
    public bool AtCapacity(GatewayEndpoint gateway) => !_tunnels.ContainsKey(gateway) && _tunnels.Count >= maxTunnels;

    public bool HasTunnel(GatewayEndpoint gateway) => _tunnels.ContainsKey(gateway);

    public IReadOnlyCollection<Channel> ChannelsOf(GatewayEndpoint gateway) =>
        _tunnels.TryGetValue(gateway, out var t) ? t.Channels : [];

    /// <summary>A Request arrived: the MAC this relay answers with, and the nonce remembered for the Update.</summary>
    public ulong IssueQuery(GatewayEndpoint gateway, uint nonce)
    {
        var now = time.GetUtcNow();
        _nonces[gateway] = _nonces.TryGetValue(gateway, out var issued) && issued.Latest != nonce
            ? new IssuedNonces(nonce, issued.Latest, true, now)
            : new IssuedNonces(nonce, issued.Previous, issued.HasPrevious, now);
        return RelayMac.Compute(secret, nonce, gateway.Address, gateway.Port);
    }

    /// <summary>Checks an Update's (or Teardown's) MAC and nonce against what this relay gave <paramref name="gateway"/>.</summary>
    public RelayRejection Verify(GatewayEndpoint gateway, ulong mac, uint nonce)
    {
        if (RelayMac.Compute(secret, nonce, gateway.Address, gateway.Port) != mac)
        {
            return RelayRejection.BadMac;
        }
        if (!_nonces.TryGetValue(gateway, out var issued) || (issued.Latest != nonce && !(issued.HasPrevious && issued.Previous == nonce)))
        {
            return RelayRejection.UnknownNonce;
        }
        return RelayRejection.None;
    }

    /// <summary>
    /// Applies a verified-or-not Update. IGMPv3 records, per group: ALLOW adds sources; BLOCK removes them;
    /// IS_INCLUDE and TO_INCLUDE set the group's sources to exactly the listed ones (empty = leave the group);
    /// the EXCLUDE modes (any-source) are ignored and counted.
    /// </summary>
    public RelayRejection ApplyUpdate(GatewayEndpoint gateway, ulong mac, uint nonce, IgmpV3Report report, RelayChanges changes)
    {
        var verdict = Verify(gateway, mac, nonce);
        if (verdict != RelayRejection.None)
        {
            return verdict;
        }
        if (!_tunnels.TryGetValue(gateway, out var tunnel))
        {
            if (_tunnels.Count >= maxTunnels)
            {
                return RelayRejection.Capacity;
            }
            tunnel = new Tunnel();
            _tunnels[gateway] = tunnel;
            changes.TunnelsCreated.Add(gateway);
        }
        tunnel.RefreshedAt = time.GetUtcNow();
        foreach (var record in report.Records)
        {
            var group = NetworkInterfaces.ToUInt32(record.Group);
            switch (record.Type)
            {
                case IgmpRecordType.AllowNewSources:
                    foreach (var s in record.Sources)
                    {
                        Join(gateway, tunnel, new Channel(NetworkInterfaces.ToUInt32(s), group), changes);
                    }
                    break;
                case IgmpRecordType.BlockOldSources:
                    foreach (var s in record.Sources)
                    {
                        Leave(gateway, tunnel, new Channel(NetworkInterfaces.ToUInt32(s), group), changes);
                    }
                    break;
                case IgmpRecordType.ModeIsInclude:
                case IgmpRecordType.ChangeToInclude:
                    var wanted = record.Sources.Select(s => new Channel(NetworkInterfaces.ToUInt32(s), group)).ToHashSet();
                    foreach (var old in tunnel.Channels.Where(c => c.Group == group && !wanted.Contains(c)).ToList())
                    {
                        Leave(gateway, tunnel, old, changes);
                    }
                    foreach (var channel in wanted)
                    {
                        Join(gateway, tunnel, channel, changes);
                    }
                    break;
                default:
                    changes.IgnoredRecords++;
                    break;
            }
        }
        if (changes.ForwardingChanged)
        {
            RebuildForwarding();
        }
        return RelayRejection.None;
    }

    /// <summary>A verified Teardown: the tunnel goes, with all its memberships.</summary>
    public bool Remove(GatewayEndpoint gateway, RelayChanges changes)
    {
        if (!_tunnels.TryGetValue(gateway, out var tunnel))
        {
            return false;
        }
        foreach (var channel in tunnel.Channels.ToList())
        {
            Leave(gateway, tunnel, channel, changes);
        }
        _tunnels.Remove(gateway);
        _nonces.Remove(gateway);
        RebuildForwarding();
        return true;
    }

    /// <summary>Drops tunnels not refreshed by a valid Update within the timeout, and nonces older than it.</summary>
    public void Expire(RelayChanges changes)
    {
        var now = time.GetUtcNow();
        foreach (var (gateway, tunnel) in _tunnels.Where(t => now - t.Value.RefreshedAt >= tunnelTimeout).ToList())
        {
            foreach (var channel in tunnel.Channels.ToList())
            {
                Leave(gateway, tunnel, channel, changes);
            }
            _tunnels.Remove(gateway);
            changes.TunnelsExpired.Add(gateway);
        }
        foreach (var gateway in _nonces.Where(n => now - n.Value.At >= tunnelTimeout && !_tunnels.ContainsKey(n.Key)).Select(n => n.Key).ToList())
        {
            _nonces.Remove(gateway);
        }
        if (changes.TunnelsExpired.Count > 0)
        {
            RebuildForwarding();
        }
    }

    private void Join(GatewayEndpoint gateway, Tunnel tunnel, Channel channel, RelayChanges changes)
    {
        if (!tunnel.Channels.Add(channel))
        {
            return;
        }
        changes.Joined.Add((gateway, channel));
        var count = _channelTunnels.GetValueOrDefault(channel);
        _channelTunnels[channel] = count + 1;
        if (count == 0)
        {
            changes.UpstreamJoins.Add(channel);
        }
    }

    private void Leave(GatewayEndpoint gateway, Tunnel tunnel, Channel channel, RelayChanges changes)
    {
        if (!tunnel.Channels.Remove(channel))
        {
            return;
        }
        changes.Left.Add((gateway, channel));
        var count = _channelTunnels[channel] - 1;
        if (count == 0)
        {
            _channelTunnels.Remove(channel);
            changes.UpstreamLeaves.Add(channel);
        }
        else
        {
            _channelTunnels[channel] = count;
        }
    }

    private void RebuildForwarding()
    {
        var forwarding = new Dictionary<ulong, List<GatewayEndpoint>>();
        foreach (var (gateway, tunnel) in _tunnels)
        {
            foreach (var channel in tunnel.Channels)
            {
                if (!forwarding.TryGetValue(channel.Key, out var list))
                {
                    forwarding[channel.Key] = list = [];
                }
                list.Add(gateway);
            }
        }
        Forwarding = forwarding.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }
}
