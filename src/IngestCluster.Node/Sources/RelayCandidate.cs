using System.Net;

namespace IngestCluster.Node.Sources;

/// <summary>One relay to try for a source: where, in which order (<see cref="Precedence"/>, lower first), and
/// whether the DRIAD record's D bit lets the gateway skip Relay Discovery. <see cref="RelayName"/> is the type-3
/// name it was resolved from, if any.</summary>
public sealed record RelayCandidate(byte Precedence, bool DiscoveryOptional, IPEndPoint Relay, string? RelayName = null)
{
    public override string ToString() => RelayName is null
        ? $"{Relay} (precedence {Precedence}{(DiscoveryOptional ? ", D" : "")})"
        : $"{Relay} = {RelayName} (precedence {Precedence}{(DiscoveryOptional ? ", D" : "")})";
}
