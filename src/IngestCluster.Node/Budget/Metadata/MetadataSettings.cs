namespace IngestCluster.Node.Budget.Metadata;

/// <summary>
/// How the node finds and fetches DORMS/CBACC metadata (how big each (S,G) flow is). Not read from the node's
/// settings yet: the settings section and its validation come with the wiring.
/// </summary>
public sealed record MetadataSettings
{
    /// <summary>Off: every request is answered <see cref="MetadataFailure.Disabled"/> at once, nothing is fetched.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Time allowed for one HTTP request, from sending it to the last byte of its body.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most fetches in flight at once; more wait for a slot.</summary>
    public int MaxConcurrent { get; init; } = 8;

    /// <summary>How long a failure or "no metadata" is remembered before it is asked again.</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Metadata found lives at least this long, whatever the DNS TTLs and HTTP headers say (a TTL of 0 would
    /// mean a fetch per request).</summary>
    public TimeSpan MinTtl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Metadata found lives at most this long.</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A PEM file of CA certificates trusted in addition to the system's (for labs); null for none.</summary>
    public string? CaBundle { get; init; }

    /// <summary>Most HTTP redirects followed per request.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>Largest response body read; a longer one fails as <see cref="MetadataFailure.TooLarge"/>.</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Most cached (S,G) entries; expired ones are dropped first when it is reached.</summary>
    public int MaxCacheEntries { get; init; } = 100_000;
}
