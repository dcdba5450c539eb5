using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using IngestCluster.Admin.Contracts;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.Node.Sources;

/// <summary>
/// This node's relay overrides, changed at run time: those from settings (<c>Relays:Overrides</c>), and those added
/// through the admin API, which are kept in <c>relay-overrides.json</c> in the data directory and so survive a
/// restart. A relay may be named by address or by DNS name (<c>amt-relay.m2icast.net</c>); a name is resolved when the
/// override is added and when the node starts, and a name that does not resolve leaves its override unused but kept.
/// Source entities read <see cref="Current"/> at each decision, so a change applies from the next relay choice on.
/// </summary>
public sealed class RelayOverrideStore
{
    public const string FileName = "relay-overrides.json";

    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);
    private readonly object _gate = new();
    private readonly string _path;
    private readonly ImmutableArray<Entry> _configured;
    private ImmutableArray<Entry> _added;
    private volatile RelayOverrideTable _current;

    private RelayOverrideStore(RelayOverrideTable configured, string path, ImmutableArray<Entry> added)
    {
        _path = path;
        ConsultBeforeDns = configured.ConsultBeforeDns;
        _configured = [.. configured.Overrides.Select(o => new Entry(o.Prefix, FormatEndpoint(o.Relay), o.Relay, FromSettings: true))];
        _added = added;
        _current = Build();
    }

    public bool ConsultBeforeDns { get; }

    /// <summary>The table source entities use now.</summary>
    public RelayOverrideTable Current => _current;

    /// <summary>Every override, those added at run time first (they win over a configured one of the same prefix).</summary>
    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _added, .. _configured.Where(c => !_added.Any(a => a.Prefix.Equals(c.Prefix)))];
            }
        }
    }

    /// <summary>Opens the store: the configured overrides, plus those saved in <paramref name="path"/>, resolved
    /// again. A file that cannot be read is an error (the operator's overrides must not vanish silently).</summary>
    public static RelayOverrideStore Open(RelayOverrideTable configured, string path)
    {
        var added = ImmutableArray<Entry>.Empty;
        if (File.Exists(path))
        {
            RelayOverrideRequest[]? saved;
            try
            {
                saved = JsonSerializer.Deserialize(File.ReadAllText(path), OverrideFileJson.Default.RelayOverrideRequestArray);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: not a list of relay overrides ({e.Message}); fix or remove it", e);
            }
            foreach (var request in saved ?? [])
            {
                if (!TryParseRequest(request, out var prefix, out var relayText, out string error))
                {
                    throw new InvalidDataException($"{path}: {error}");
                }
                var resolved = ResolveAsync(prefix, relayText, CancellationToken.None).GetAwaiter().GetResult();
                added = added.Add(new Entry(prefix, relayText, resolved, FromSettings: false));
            }
        }
        return new RelayOverrideStore(configured, path, added);
    }

    /// <summary>Adds or replaces the override of <paramref name="request"/>'s prefix and saves the added set.
    /// Returns null and an error for a bad prefix or relay; a name that does not resolve is kept (and reported by
    /// its null <see cref="Entry.ResolvedTo"/>).</summary>
    public async Task<(Entry? Entry, string Error)> AddAsync(RelayOverrideRequest request, CancellationToken cancellation)
    {
        if (!TryParseRequest(request, out var prefix, out var relayText, out string error))
        {
            return (null, error);
        }
        var resolved = await ResolveAsync(prefix, relayText, cancellation);
        var entry = new Entry(prefix, relayText, resolved, FromSettings: false);
        lock (_gate)
        {
            _added = [.. _added.Where(e => !e.Prefix.Equals(prefix)), entry];
            Save();
            _current = Build();
        }
        return (entry, string.Empty);
    }

    /// <summary>Removes the run-time override of <paramref name="prefixText"/>. A configured override cannot be removed
    /// here (it would return at the next start): false with a reason.</summary>
    public bool Remove(string prefixText, out string error)
    {
        if (!IPNetwork.TryParse(prefixText, out var prefix))
        {
            error = $"'{prefixText}' is not a prefix like 10.0.5.0/24";
            return false;
        }
        lock (_gate)
        {
            if (!_added.Any(e => e.Prefix.Equals(prefix)))
            {
                error = _configured.Any(e => e.Prefix.Equals(prefix))
                    ? $"the override of {prefix} comes from settings (Relays:Overrides); change it there"
                    : $"no relay override for {prefix}";
                return false;
            }
            _added = [.. _added.Where(e => !e.Prefix.Equals(prefix))];
            Save();
            _current = Build();
        }
        error = string.Empty;
        return true;
    }

    private RelayOverrideTable Build() =>
        new([.. Entries.Where(e => e.ResolvedTo is not null).Select(e => new RelayOverride(e.Prefix, e.ResolvedTo!))], ConsultBeforeDns);

    /// <summary>Writes the added overrides atomically: a temporary file renamed over the old one.</summary>
    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
        string temporary = _path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(
            [.. _added.Select(e => new RelayOverrideRequest(e.Prefix.ToString(), e.Relay))], OverrideFileJson.Default.RelayOverrideRequestArray));
        File.Move(temporary, _path, overwrite: true);
    }

    /// <summary>A prefix, and a relay: an address, <c>address:port</c>, <c>[v6]:port</c>, a DNS name or
    /// <c>name:port</c>.</summary>
    public static bool TryParseRequest(RelayOverrideRequest request, out IPNetwork prefix, out string relay, out string error)
    {
        relay = request.Relay?.Trim() ?? string.Empty;
        error = string.Empty;
        if (!IPNetwork.TryParse(request.Prefix?.Trim() ?? string.Empty, out prefix))
        {
            error = $"'{request.Prefix}' is not a source prefix like 162.250.136.0/22";
            return false;
        }
        if (IPAddress.TryParse(relay, out _) || IPEndPoint.TryParse(relay, out _))
        {
            return true;
        }
        var (host, port) = SplitPort(relay);
        if (port is null || Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            error = $"'{request.Relay}' is not a relay address or DNS name, with an optional :port";
            return false;
        }
        return true;
    }

    private static (string Host, int? Port) SplitPort(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return (text, AmtRelayRecord.AmtPort);
        }
        return int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535
            ? (text[..colon], port)
            : (text, null);
    }

    /// <summary>The relay's endpoint: the address itself, or the name's first address of the prefix's family.</summary>
    private static async Task<IPEndPoint?> ResolveAsync(IPNetwork prefix, string relay, CancellationToken cancellation)
    {
        if (IPAddress.TryParse(relay, out var bare) && !relay.StartsWith('['))
        {
            return new IPEndPoint(bare, AmtRelayRecord.AmtPort);
        }
        if (IPEndPoint.TryParse(relay, out var endpoint))
        {
            return endpoint.Port == 0 ? new IPEndPoint(endpoint.Address, AmtRelayRecord.AmtPort) : endpoint;
        }
        var (host, port) = SplitPort(relay);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(ResolveTimeout);
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, prefix.BaseAddress.AddressFamily, timeout.Token);
            return addresses.Length == 0 ? null : new IPEndPoint(addresses[0], port ?? AmtRelayRecord.AmtPort);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    private static string FormatEndpoint(IPEndPoint relay) =>
        relay.Port == AmtRelayRecord.AmtPort ? relay.Address.ToString() : relay.ToString();

    /// <summary>One override. <paramref name="Relay"/> is as the operator gave it.</summary>
    public sealed record Entry(IPNetwork Prefix, string Relay, IPEndPoint? ResolvedTo, bool FromSettings);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RelayOverrideRequest[]))]
internal sealed partial class OverrideFileJson : System.Text.Json.Serialization.JsonSerializerContext;
