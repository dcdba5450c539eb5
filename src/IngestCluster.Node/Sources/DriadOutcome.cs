using System.Collections.Immutable;
using System.Net;

namespace IngestCluster.Node.Sources;

/// <summary>What a DRIAD lookup found for a source. Expected failures are outcomes, never exceptions.</summary>
public abstract record DriadOutcome(IPAddress Source)
{
    /// <summary>A sentence for status output.</summary>
    public abstract string Detail { get; }

    /// <summary>Usable relays, in no particular order (see <see cref="RelaySelection.Order"/>).</summary>
    public sealed record RelayCandidates(IPAddress Source, ImmutableArray<RelayCandidate> Candidates) : DriadOutcome(Source)
    {
        public override string Detail => $"{Candidates.Length} relay candidate(s) for {Source}";
    }

    /// <summary>No AMTRELAY record at the source's reverse name (NXDOMAIN or no data).</summary>
    public sealed record NoRecord(IPAddress Source) : DriadOutcome(Source)
    {
        public override string Detail => $"no AMTRELAY record for {Source}";
    }

    /// <summary>A type 0 record says: use no relay for this source (RFC 8777 §4.2.3).</summary>
    public sealed record NoRelay(IPAddress Source) : DriadOutcome(Source)
    {
        public override string Detail => "type 0: no relay";
    }

    /// <summary>DNS did not answer usefully: timeout, SERVFAIL, a broken record set, names that do not resolve.</summary>
    public sealed record DnsFailure(IPAddress Source, string Reason) : DriadOutcome(Source)
    {
        public override string Detail => $"DNS failure for {Source}: {Reason}";
    }
}

/// <summary>Finds the relays for a source. <see cref="DriadResolver"/> asks DNS; tests give a fake.</summary>
public interface IRelayResolver
{
    /// <summary>Never throws for DNS trouble: returns <see cref="DriadOutcome.DnsFailure"/> instead.</summary>
    Task<DriadOutcome> ResolveAsync(IPAddress source, CancellationToken cancellationToken = default);
}
