using System.Diagnostics.CodeAnalysis;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>
/// How long a metadata result holds. Found metadata lives as long as the shortest of the DNS TTLs on the way and
/// the HTTP freshness lifetime (Cache-Control max-age, or Expires), clamped to [MinTtl, MaxTtl]. A negative
/// result (none found, or a failure) lives <see cref="MetadataSettings.NegativeTtl"/>, or shorter when its source
/// said so (the SOA of a "no SRV" answer, the freshness of a 404), but not below MinTtl.
/// </summary>
public static class MetadataLifetime
{
    public static DateTimeOffset ForFound(DateTimeOffset now, TimeSpan dnsTtl, TimeSpan? httpLifetime, MetadataSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var lifetime = httpLifetime is { } http && http < dnsTtl ? http : dnsTtl;
        return now + Clamp(lifetime, settings.MinTtl, settings.MaxTtl);
    }

    public static DateTimeOffset ForNegative(DateTimeOffset now, TimeSpan? shorterHint, MetadataSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var lifetime = settings.NegativeTtl;
        if (shorterHint is { } hint && hint < lifetime)
        {
            // A hint may shorten the negative TTL, down to MinTtl: a TTL of 0 must not mean a fetch per request.
            var floor = settings.MinTtl < settings.NegativeTtl ? settings.MinTtl : settings.NegativeTtl;
            lifetime = hint > floor ? hint : floor;
        }
        return now + lifetime;
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;
}

/// <summary>
/// Metadata results by (S,G), each kept until its own <see cref="MetadataResult.Expires"/> (see
/// <see cref="MetadataLifetime"/>), negative results included. Bounded: when full, expired entries go first, then
/// the ones that expire soonest. Not thread-safe: <see cref="FlowMetadataActor"/> owns it.
/// </summary>
public sealed class MetadataCache
{
    private readonly Dictionary<SourceGroup, MetadataResult> _entries = [];
    private readonly TimeProvider _time;
    private readonly int _maxEntries;

    public MetadataCache(MetadataSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxCacheEntries, 1);
        _time = time;
        _maxEntries = settings.MaxCacheEntries;
    }

    /// <summary>Entries held, expired ones not yet dropped included.</summary>
    public int Count => _entries.Count;

    /// <summary>The result for <paramref name="flow"/> if it has not expired; an expired one is dropped.</summary>
    public bool TryGet(SourceGroup flow, [NotNullWhen(true)] out MetadataResult? result)
    {
        if (_entries.TryGetValue(flow, out result))
        {
            if (result.Expires > _time.GetUtcNow())
            {
                return true;
            }
            _entries.Remove(flow);
        }
        result = null;
        return false;
    }

    /// <summary>Keeps <paramref name="result"/> until it expires (one already expired is not kept).</summary>
    public void Put(SourceGroup flow, MetadataResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var now = _time.GetUtcNow();
        if (result.Expires <= now)
        {
            _entries.Remove(flow);
            return;
        }
        if (!_entries.ContainsKey(flow) && _entries.Count >= _maxEntries)
        {
            MakeRoom(now);
        }
        _entries[flow] = result;
    }

    private void MakeRoom(DateTimeOffset now)
    {
        foreach (var expired in _entries.Where(kv => kv.Value.Expires <= now).Select(kv => kv.Key).ToList())
        {
            _entries.Remove(expired);
        }
        if (_entries.Count >= _maxEntries)
        {
            _entries.Remove(_entries.MinBy(kv => kv.Value.Expires).Key);
        }
    }
}

/// <summary>
/// The HTTP freshness lifetime of a response for a private cache (RFC 9111 §4.2.1): <c>no-store</c> or
/// <c>no-cache</c> is 0; <c>max-age</c> less the <c>Age</c>; else <c>Expires</c> less <c>Date</c> (or now); an
/// invalid Expires is 0. Null when the response says nothing.
/// </summary>
public static class HttpFreshness
{
    public static TimeSpan? Lifetime(HttpResponseMessage response, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(response);
        var cacheControl = response.Headers.CacheControl;
        if (cacheControl is not null)
        {
            if (cacheControl.NoStore || cacheControl.NoCache)
            {
                return TimeSpan.Zero;
            }
            if (cacheControl.MaxAge is { } maxAge)
            {
                var age = response.Headers.Age ?? TimeSpan.Zero;
                return NotNegative(maxAge - age);
            }
        }
        if (response.Content.Headers.TryGetValues("Expires", out _))
        {
            if (response.Content.Headers.Expires is not { } expires)
            {
                return TimeSpan.Zero;
            }
            return NotNegative(expires - (response.Headers.Date ?? now));
        }
        return null;
    }

    private static TimeSpan NotNegative(TimeSpan value) => value < TimeSpan.Zero ? TimeSpan.Zero : value;
}
