using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.Node.Sources;

/// <summary>How <see cref="DriadResolver"/> talks to DNS and caches.</summary>
public sealed record DriadResolverOptions
{
    /// <summary>Name servers with their ports; empty means the system's resolvers.</summary>
    public IReadOnlyList<IPEndPoint> NameServers { get; init; } = [];

    /// <summary>Time to wait for one answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Retries after a timeout, per query.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>How long "no record" is cached when the answer carries no SOA to say.</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Cached answers live at least this long, whatever their TTL (a TTL of 0 would mean a query per tick).</summary>
    public TimeSpan MinimumTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Cached answers live at most this long.</summary>
    public TimeSpan MaximumTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Most CNAME/DNAME hops followed, across queries.</summary>
    public int MaxChainLength { get; init; } = 8;

    /// <summary>The UDP port the relays listen on.</summary>
    public int RelayPort { get; init; } = AmtRelayRecord.AmtPort;
}

/// <summary>
/// DRIAD (RFC 8777 §4): the AMTRELAY records at a source's reverse name, following CNAME and DNAME, with type-3
/// names resolved to A and AAAA. Answers are cached by their TTL. Never throws for DNS trouble.
/// </summary>
public sealed class DriadResolver : IRelayResolver
{
    private const ResourceRecordType AmtRelayType = (ResourceRecordType)AmtRelayRecord.RecordType;
    private const ResourceRecordType DnameType = (ResourceRecordType)39;
    private const int MaxCacheEntries = 100_000;

    private readonly IDnsQuery _dns;
    private readonly DriadResolverOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<IPAddress, (DriadOutcome Outcome, DateTimeOffset Expires)> _cache = new();
    private readonly MetricCounter _relays, _noRecord, _noRelay, _dnsFailure, _cacheHits;
    private readonly MetricCounter _ignoredUnsupported, _ignoredMalformed, _unresolvedNames;

    public DriadResolver(DriadResolverOptions options, NodeMetrics metrics, TimeProvider time)
        : this(CreateClient(options), options, metrics, time)
    {
    }

    /// <summary>With any <see cref="IDnsQuery"/> (a <see cref="LookupClient"/> normally).</summary>
    public DriadResolver(IDnsQuery dns, DriadResolverOptions options, NodeMetrics metrics, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(time);
        _dns = dns;
        _options = options;
        _time = time;
        const string Lookups = "ingest_driad_lookups_total";
        const string LookupsHelp = "DRIAD lookups by outcome (cache hits included)";
        _relays = metrics.Counter(Lookups, "outcome=\"relays\"", LookupsHelp);
        _noRecord = metrics.Counter(Lookups, "outcome=\"no_record\"", LookupsHelp);
        _noRelay = metrics.Counter(Lookups, "outcome=\"no_relay\"", LookupsHelp);
        _dnsFailure = metrics.Counter(Lookups, "outcome=\"dns_failure\"", LookupsHelp);
        _cacheHits = metrics.Counter("ingest_driad_cache_hits_total", "", "DRIAD lookups answered from the TTL cache");
        const string Ignored = "ingest_driad_records_ignored_total";
        const string IgnoredHelp = "AMTRELAY records or relay names that could not be used";
        _ignoredUnsupported = metrics.Counter(Ignored, "reason=\"unsupported_type\"", IgnoredHelp);
        _ignoredMalformed = metrics.Counter(Ignored, "reason=\"malformed\"", IgnoredHelp);
        _unresolvedNames = metrics.Counter(Ignored, "reason=\"unresolved_name\"", IgnoredHelp);
    }

    /// <summary>A <see cref="LookupClient"/> for <paramref name="options"/>: our own cache, no exceptions for DNS errors.</summary>
    public static LookupClient CreateClient(DriadResolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = options.NameServers.Count > 0
            ? new LookupClientOptions([.. options.NameServers.Select(e => new NameServer(e))])
            : new LookupClientOptions();
        clientOptions.Timeout = options.Timeout;
        clientOptions.Retries = options.Retries;
        clientOptions.UseCache = false;
        clientOptions.ThrowDnsErrors = false;
        clientOptions.ContinueOnDnsError = false;
        clientOptions.ContinueOnEmptyResponse = false;
        clientOptions.UseTcpFallback = true;
        clientOptions.Recursion = true;
        return new LookupClient(clientOptions);
    }

    public async Task<DriadOutcome> ResolveAsync(IPAddress source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(source, out var cached) && cached.Expires > now)
        {
            _cacheHits.Increment();
            return Count(cached.Outcome);
        }

        var (outcome, ttl) = await LookUpAsync(source, cancellationToken).ConfigureAwait(false);
        if (outcome is not DriadOutcome.DnsFailure)
        {
            var clamped = ttl < _options.MinimumTtl ? _options.MinimumTtl : ttl > _options.MaximumTtl ? _options.MaximumTtl : ttl;
            if (_cache.Count >= MaxCacheEntries)
            {
                foreach (var stale in _cache.Where(kv => kv.Value.Expires <= now).Select(kv => kv.Key).ToList())
                {
                    _cache.TryRemove(stale, out _);
                }
            }
            _cache[source] = (outcome, _time.GetUtcNow() + clamped);
        }
        return Count(outcome);
    }

    /// <summary>Forgets every cached answer (for an operator's "re-resolve now").</summary>
    public void ClearCache() => _cache.Clear();

    private DriadOutcome Count(DriadOutcome outcome)
    {
        (outcome switch
        {
            DriadOutcome.RelayCandidates => _relays,
            DriadOutcome.NoRecord => _noRecord,
            DriadOutcome.NoRelay => _noRelay,
            _ => _dnsFailure,
        }).Increment();
        return outcome;
    }

    private async Task<(DriadOutcome Outcome, TimeSpan Ttl)> LookUpAsync(IPAddress source, CancellationToken cancellationToken)
    {
        string name = ReverseName.For(source);
        TimeSpan ttl = _options.MaximumTtl;
        var records = new List<AmtRelayRecord>();
        int hops = 0;
        string? malformed = null;

        while (true)
        {
            var (response, failure) = await QueryAsync(name, (QueryType)AmtRelayRecord.RecordType, cancellationToken).ConfigureAwait(false);
            if (response is null)
            {
                return (new DriadOutcome.DnsFailure(source, failure!), TimeSpan.Zero);
            }

            // Walk the chain inside this answer: CNAMEs (and DNAMEs, should a server send one without its CNAME).
            var answers = response.Answers;
            bool queryAgain = false;
            while (true)
            {
                var here = answers.Where(r => r.RecordType == AmtRelayType && SameName(r.DomainName.Value, name)).ToList();
                if (here.Count > 0)
                {
                    foreach (var answer in here)
                    {
                        ttl = Min(ttl, answer.TimeToLive);
                        if (!TryGetRdata(answer, out var rdata))
                        {
                            malformed ??= $"record at {name} has no RDATA";
                            _ignoredMalformed.Increment();
                            continue;
                        }
                        if (AmtRelayRecord.TryRead(rdata, out var record, out var error))
                        {
                            records.Add(record);
                        }
                        else if (error.Kind == Protocols.ParseFailure.Unsupported)
                        {
                            _ignoredUnsupported.Increment();
                        }
                        else
                        {
                            malformed ??= $"malformed AMTRELAY at {name}: {error}";
                            _ignoredMalformed.Increment();
                        }
                    }
                    break;
                }

                var cname = answers.CnameRecords().FirstOrDefault(c => SameName(c.DomainName.Value, name));
                string? next = cname?.CanonicalName.Value;
                if (cname is not null)
                {
                    ttl = Min(ttl, cname.TimeToLive);
                }
                else if (TryDname(answers, name, out var rewritten, out int dnameTtl))
                {
                    next = rewritten;
                    ttl = Min(ttl, dnameTtl);
                }

                if (next is null)
                {
                    // The chain ends here. If the server stopped at a name it did not chase, ask for that name.
                    queryAgain = hops > 0 && !SameName(response.Questions.FirstOrDefault()?.QueryName.Value ?? name, name)
                        && response.Header.ResponseCode == DnsHeaderResponseCode.NoError && !HasNegativeProof(response);
                    break;
                }
                if (++hops > _options.MaxChainLength)
                {
                    return (new DriadOutcome.DnsFailure(source, $"CNAME/DNAME chain from {ReverseName.For(source)} is longer than {_options.MaxChainLength}"), TimeSpan.Zero);
                }
                name = next;
            }

            if (queryAgain)
            {
                continue;
            }

            if (records.Count == 0)
            {
                if (malformed is not null)
                {
                    return (new DriadOutcome.DnsFailure(source, malformed), TimeSpan.Zero);
                }
                var code = response.Header.ResponseCode;
                if (code is DnsHeaderResponseCode.NoError or DnsHeaderResponseCode.NotExistentDomain)
                {
                    return (new DriadOutcome.NoRecord(source), Min(ttl, NegativeTtl(response)));
                }
                return (new DriadOutcome.DnsFailure(source, $"{ReverseName.For(source)}: {response.ErrorMessage}"), TimeSpan.Zero);
            }
            break;
        }

        return await CandidatesAsync(source, records, ttl, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Type 0 at a precedence ends the list there (RFC 8777 §4.2.3: "no relay" from that choice on);
    /// addresses become candidates; names are resolved to A and AAAA, keeping precedence and D bit.</summary>
    private async Task<(DriadOutcome Outcome, TimeSpan Ttl)> CandidatesAsync(
        IPAddress source, List<AmtRelayRecord> records, TimeSpan ttl, CancellationToken cancellationToken)
    {
        int stopAt = records.Where(r => r.Type == Protocols.Driad.AmtRelayType.None).Select(r => (int)r.Precedence).DefaultIfEmpty(int.MaxValue).Min();
        var usable = records.Where(r => r.Type != Protocols.Driad.AmtRelayType.None && r.Precedence < stopAt).ToList();
        if (usable.Count == 0)
        {
            return (new DriadOutcome.NoRelay(source), ttl);
        }

        var candidates = ImmutableArray.CreateBuilder<RelayCandidate>();
        string? nameFailure = null;
        foreach (var record in usable)
        {
            if (record.Address is not null)
            {
                candidates.Add(new RelayCandidate(record.Precedence, record.DiscoveryOptional, new IPEndPoint(record.Address, _options.RelayPort)));
                continue;
            }
            var (addresses, addressTtl, failure) = await ResolveNameAsync(record.RelayName!, cancellationToken).ConfigureAwait(false);
            if (addresses.Count == 0)
            {
                _unresolvedNames.Increment();
                nameFailure ??= failure;
                continue;
            }
            ttl = Min(ttl, addressTtl);
            foreach (var address in addresses)
            {
                candidates.Add(new RelayCandidate(record.Precedence, record.DiscoveryOptional, new IPEndPoint(address, _options.RelayPort), record.RelayName));
            }
        }

        if (candidates.Count == 0)
        {
            return (new DriadOutcome.DnsFailure(source, nameFailure ?? "no relay name resolved"), TimeSpan.Zero);
        }
        return (new DriadOutcome.RelayCandidates(source, candidates.ToImmutable()), ttl);
    }

    private async Task<(List<IPAddress> Addresses, TimeSpan Ttl, string Failure)> ResolveNameAsync(string name, CancellationToken cancellationToken)
    {
        var a = QueryAsync(name, QueryType.A, cancellationToken);
        var aaaa = QueryAsync(name, QueryType.AAAA, cancellationToken);
        var results = await Task.WhenAll(a, aaaa).ConfigureAwait(false);
        var addresses = new List<IPAddress>();
        TimeSpan ttl = _options.MaximumTtl;
        var failures = new List<string>();
        foreach (var (response, failure) in results)
        {
            if (response is null)
            {
                failures.Add(failure!);
                continue;
            }
            foreach (var record in response.Answers)
            {
                if (record is ARecord { Address.AddressFamily: AddressFamily.InterNetwork } v4)
                {
                    addresses.Add(v4.Address);
                    ttl = Min(ttl, v4.TimeToLive);
                }
                else if (record is AaaaRecord { Address.AddressFamily: AddressFamily.InterNetworkV6 } v6)
                {
                    addresses.Add(v6.Address);
                    ttl = Min(ttl, v6.TimeToLive);
                }
                else if (record is CNameRecord cname)
                {
                    ttl = Min(ttl, cname.TimeToLive);
                }
            }
        }
        string reason = failures.Count > 0
            ? $"relay name {name} did not resolve: {string.Join("; ", failures.Distinct())}"
            : $"relay name {name} has no A or AAAA record";
        return (addresses.Distinct().ToList(), ttl, reason);
    }

    private Task<(IDnsQueryResponse? Response, string? Failure)> QueryAsync(string name, QueryType type, CancellationToken cancellationToken) =>
        DnsQueries.QueryAsync(_dns, name, type, cancellationToken);

    private static bool TryGetRdata(DnsResourceRecord record, out byte[] rdata)
    {
        rdata = record is UnknownRecord unknown ? [.. unknown.Data] : [];
        return record is UnknownRecord;
    }

    /// <summary>A DNAME (RFC 6672) whose owner is a proper suffix of <paramref name="name"/>: the name rewritten.</summary>
    private static bool TryDname(IEnumerable<DnsResourceRecord> answers, string name, out string rewritten, out int ttl)
    {
        rewritten = string.Empty;
        ttl = 0;
        string trimmed = name.TrimEnd('.');
        foreach (var record in answers)
        {
            if (record.RecordType != DnameType || record is not UnknownRecord dname)
            {
                continue;
            }
            string owner = dname.DomainName.Value.TrimEnd('.');
            if (!trimmed.EndsWith("." + owner, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!DnsWireName.TryRead([.. dname.Data], out string target, out _, out _))
            {
                continue;
            }
            string prefix = trimmed[..^(owner.Length + 1)];
            rewritten = target == "." ? prefix + "." : $"{prefix}.{target}";
            ttl = dname.TimeToLive;
            return true;
        }
        return false;
    }

    /// <summary>RFC 2308: a negative answer is cached for the SOA's TTL or its MINIMUM, whichever is less.</summary>
    private TimeSpan NegativeTtl(IDnsQueryResponse response)
    {
        var soa = response.Authorities.SoaRecords().FirstOrDefault();
        return soa is null ? _options.NegativeTtl : TimeSpan.FromSeconds(Math.Min(soa.TimeToLive, soa.Minimum));
    }

    private static bool HasNegativeProof(IDnsQueryResponse response) => response.Authorities.SoaRecords().Any();

    private static TimeSpan Min(TimeSpan current, long seconds) => Min(current, TimeSpan.FromSeconds(Math.Max(0, seconds)));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static bool SameName(string a, string b) =>
        string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
}
