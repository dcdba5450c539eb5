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
    public sealed record SetGroups(ImmutableArray<IPAddress> Groups) : Akka.Actor.INoSerializationVerificationNeeded;

    /// <summary>Tunnel → parent: its state changed (for status output).</summary>
    public sealed record TunnelStateChanged(IPEndPoint Relay, string State, string Detail) : Akka.Actor.INoSerializationVerificationNeeded;

    /// <summary>Tunnel → parent: this relay failed (no answer, no data, L flag). The parent holds the relay down
    /// for <paramref name="HoldDown"/>, stops this child and moves to the next candidate.</summary>
    public sealed record TunnelFailed(IPEndPoint Relay, string Reason, TimeSpan HoldDown) : Akka.Actor.INoSerializationVerificationNeeded;

    /// <summary>Asks a tunnel for its state; answered with <see cref="TunnelStatus"/>.</summary>
    public sealed class GetTunnelStatus : Akka.Actor.INoSerializationVerificationNeeded
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
        long Dropped) : Akka.Actor.INoSerializationVerificationNeeded;

    /// <summary>Parent → tunnel: the source moved to another node. Keep forwarding for <paramref name="Duration"/>
    /// (held by <see cref="LingeringTunnels"/>), then leave; the actor itself stops now.</summary>
    public sealed record Linger(TimeSpan Duration) : Akka.Actor.INoSerializationVerificationNeeded;
}
