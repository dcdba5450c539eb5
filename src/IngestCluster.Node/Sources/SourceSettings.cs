namespace IngestCluster.Node.Sources;

/// <summary>Timers and policy of a source entity.</summary>
public sealed record SourceSettings
{
    /// <summary>First wait after a failure (a relay failed, or DNS did); doubled per consecutive failure. RFC 8777
    /// §4.2.2: rediscovery backs off from 4 s up to 120 s.</summary>
    public TimeSpan BackoffMin { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest wait after a failure.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Hold-down for a relay that failed without saying for how long (RFC 8777 §4.2.2; 3–10 min).</summary>
    public TimeSpan DefaultHoldDown { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often to look again when DNS says there is no relay (no record, or type 0).</summary>
    public TimeSpan NoRelayRetry { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A tunnel that ran this long before failing resets the failure count (and so the backoff).</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a tunnel keeps forwarding after its source moved to another node (a graceful leave or a
    /// rebalance), so the new home's tunnel carries the flow first: make before break.</summary>
    public TimeSpan HandOffLinger { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>How long an entity told to prepare (a flow of its source waits for the budget's decision) keeps the
    /// relay lookup and the tunnel it opened with no groups joined, before it gives them up. Zero: no preparation,
    /// the lookup starts when the budget admits.</summary>
    public TimeSpan PrepareFor { get; init; } = TimeSpan.FromSeconds(10);

    private readonly RelayOverrideTable _overrides = RelayOverrideTable.Empty;

    /// <summary>Operator relays by source prefix: the store's current table when there is one (overrides change at run
    /// time through the admin API), else the one given.</summary>
    public RelayOverrideTable Overrides
    {
        get => OverrideStore?.Current ?? _overrides;
        init => _overrides = value;
    }

    /// <summary>The node's changeable overrides; null in tests that fix a table.</summary>
    public RelayOverrideStore? OverrideStore { get; init; }

    /// <summary>The port of relays named by an override without one, and of DRIAD relays.</summary>
    public int RelayPort { get; init; } = Protocols.Driad.AmtRelayRecord.AmtPort;

    /// <summary>The backoff after <paramref name="failures"/> consecutive failures (1 → <see cref="BackoffMin"/>).</summary>
    public TimeSpan Backoff(int failures)
    {
        if (failures <= 1)
        {
            return BackoffMin;
        }
        double factor = Math.Pow(2, Math.Min(failures - 1, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(BackoffMin.Ticks * factor, BackoffMax.Ticks));
        return delay < BackoffMin ? BackoffMin : delay;
    }
}
