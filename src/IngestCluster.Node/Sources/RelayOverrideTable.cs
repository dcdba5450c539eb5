using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.Node.Sources;

/// <summary>An operator's relay for every source in <see cref="Prefix"/>.</summary>
public sealed record RelayOverride(IPNetwork Prefix, IPEndPoint Relay)
{
    public override string ToString() => $"{Prefix}={Relay}";
}

/// <summary>
/// Operator-configured relays by source prefix, longest prefix wins. Consulted for sources that have no AMTRELAY
/// record, and, when <see cref="ConsultBeforeDns"/> is set, before asking DNS at all.
/// </summary>
public sealed class RelayOverrideTable
{
    public static readonly RelayOverrideTable Empty = new([], consultBeforeDns: false);

    private readonly ImmutableArray<RelayOverride> _byPrefixLength;

    public RelayOverrideTable(IEnumerable<RelayOverride> overrides, bool consultBeforeDns)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        _byPrefixLength = [.. overrides.OrderByDescending(o => o.Prefix.PrefixLength)];
        ConsultBeforeDns = consultBeforeDns;
    }

    public bool ConsultBeforeDns { get; }

    public ImmutableArray<RelayOverride> Overrides => _byPrefixLength;

    /// <summary>The relay of the longest prefix that holds <paramref name="source"/>.</summary>
    public bool TryFind(IPAddress source, out IPEndPoint relay)
    {
        ArgumentNullException.ThrowIfNull(source);
        foreach (var entry in _byPrefixLength)
        {
            if (entry.Prefix.BaseAddress.AddressFamily == source.AddressFamily && entry.Prefix.Contains(source))
            {
                relay = entry.Relay;
                return true;
            }
        }
        relay = null!;
        return false;
    }

    /// <summary>Parses <c>prefix=relay[:port]</c>, e.g. <c>10.0.5.0/24=10.0.9.1</c> or
    /// <c>2001:db8::/32=[2001:db8::9]:2268</c>; the port defaults to 2268.</summary>
    public static bool TryParseEntry(string text, out RelayOverride entry, out string error)
    {
        entry = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "relay override is empty; expected prefix=relay[:port]";
            return false;
        }
        int equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals < 0)
        {
            error = $"relay override '{text}' has no '='; expected prefix=relay[:port]";
            return false;
        }
        string prefixText = text[..equals].Trim();
        string relayText = text[(equals + 1)..].Trim();
        if (!IPNetwork.TryParse(prefixText, out var prefix))
        {
            error = $"relay override '{text}': '{prefixText}' is not a prefix like 10.0.5.0/24";
            return false;
        }
        if (!TryParseRelay(relayText, out var relay))
        {
            error = $"relay override '{text}': '{relayText}' is not an address with an optional port";
            return false;
        }
        entry = new RelayOverride(prefix, relay);
        error = string.Empty;
        return true;
    }

    private static bool TryParseRelay(string text, out IPEndPoint relay)
    {
        relay = null!;
        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
        {
            relay = new IPEndPoint(bare, AmtRelayRecord.AmtPort);
            return true;
        }
        if (!IPEndPoint.TryParse(text, out var endpoint))
        {
            return false;
        }
        relay = endpoint.Port == 0 ? new IPEndPoint(endpoint.Address, AmtRelayRecord.AmtPort) : endpoint;
        return true;
    }

    public override string ToString() => string.Join(", ", _byPrefixLength.Select(o => o.ToString()))
        + string.Create(CultureInfo.InvariantCulture, $" (before DNS: {ConsultBeforeDns})");
}
