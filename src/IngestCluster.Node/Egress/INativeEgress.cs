namespace IngestCluster.Node.Egress;

/// <summary>
/// Puts native IPv4 multicast datagrams onto the downstream LAN. The tunnel's receive loop calls it for every
/// Multicast Data packet it accepted, so implementations must not allocate or block beyond the send itself.
/// </summary>
public interface INativeEgress : IDisposable
{
    /// <summary>The downstream interface the datagrams leave by.</summary>
    string InterfaceName { get; }

    /// <summary>Sends one IPv4 datagram, header included, whose TTL the caller has already decremented.
    /// Returns false when the send failed; the egress counts the failure.</summary>
    bool Send(ReadOnlySpan<byte> ipv4Datagram);
}
