using System.Collections.Immutable;
using System.Net;

namespace IngestCluster.Node.Tunnels;

/// <summary>Between a SourceActor and its child AmtTunnelActor.</summary>
public static class TunnelProtocol
{
    /// <summary>Where a tunnel goes: the source it carries, the relay's address and port (2268), and whether the
    /// DRIAD record's D bit lets the gateway skip Relay Discovery.</summary>
    public sealed record TunnelTarget(IPAddress Source, IPEndPoint Relay, bool SkipDiscovery);

    /// <summary>Parent → tunnel: the full set of groups to have joined through this relay (for the tunnel's
    /// source). The tunnel sends ALLOW/BLOCK for the difference. Idempotent.</summary>
    public sealed record SetGroups(ImmutableArray<IPAddress> Groups);

    /// <summary>Tunnel → parent: its state changed (for status output).</summary>
    public sealed record TunnelStateChanged(IPEndPoint Relay, string State, string Detail);

    /// <summary>Tunnel → parent: this relay failed (no answer, no data, L flag). The parent holds the relay down
    /// for <paramref name="HoldDown"/>, stops this child and moves to the next candidate.</summary>
    public sealed record TunnelFailed(IPEndPoint Relay, string Reason, TimeSpan HoldDown);

    /// <summary>Asks a tunnel for its state; answered with <see cref="TunnelStatus"/>.</summary>
    public sealed class GetTunnelStatus
    {
        public static readonly GetTunnelStatus Instance = new();
        private GetTunnelStatus() { }
    }

    public sealed record TunnelStatus(
        string Relay,
        string State,
        string Detail,
        ImmutableArray<string> JoinedGroups,
        long DataPackets,
        long DataBytes,
        long Dropped);
}
