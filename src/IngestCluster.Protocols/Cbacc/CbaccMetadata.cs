using System.Globalization;
using System.Net;
using System.Text.Json;

namespace IngestCluster.Protocols.Cbacc;

/// <summary>Which generation of CBACC leaf names a document used.</summary>
public enum CbaccNameSet
{
    /// <summary>The current draft: <c>max-speed</c> in kbit/s, <c>max-packet-size</c>, <c>data-rate-window</c>, <c>priority</c>.</summary>
    Current,
    /// <summary>The 2021 proof of concept's: <c>max-bits-per-second</c> in bit/s and <c>max-mss</c>, per UDP stream.</summary>
    Older,
}

/// <summary>What kind of wrong a CBACC document had. Stable: metrics are labelled with it.</summary>
public enum CbaccFailure
{
    None = 0,
    /// <summary>Not JSON, or not an object where one must be.</summary>
    BadJson,
    /// <summary>No <c>ietf-cbacc:cbacc</c> for the (S,G) asked about.</summary>
    NotFound,
    /// <summary>A mandatory leaf (max-speed, or max-bits-per-second in the older set) is absent.</summary>
    Missing,
    /// <summary>A leaf that must be a whole number is not one (or does not fit).</summary>
    BadNumber,
    /// <summary>A leaf that must not be negative is.</summary>
    Negative,
}

/// <summary>A CBACC failure: what, which field, and a sentence for people.</summary>
public readonly record struct CbaccError(CbaccFailure Kind, string Field, string Message)
{
    public bool IsError => Kind != CbaccFailure.None;

    public override string ToString() => IsError ? $"{Kind} ({Field}): {Message}" : "no error";
}

/// <summary>
/// How big one (S,G) flow is, from DORMS/CBACC metadata (draft-ietf-mboned-cbacc), normalised: the rate in bits
/// per second whichever name set carried it.
/// </summary>
public sealed record CbaccMetadata(
    long BitsPerSecond,
    int MaxPacketSize,
    TimeSpan DataRateWindow,
    long Priority,
    CbaccNameSet NameSet)
{
    public const int DefaultMaxPacketSize = 1400;
    public static readonly TimeSpan DefaultDataRateWindow = TimeSpan.FromMilliseconds(2000);
    public const long DefaultPriority = 256;

    private const string CbaccContainer = "ietf-cbacc:cbacc";

    /// <summary>
    /// Reads the CBACC metadata for (<paramref name="source"/>, <paramref name="group"/>) from any of the shapes in use:
    /// the bare RESTCONF response <c>{"ietf-cbacc:cbacc":{…}}</c>; a group list
    /// <c>{"ietf-dorms:group":[…]}</c>; the older full document <c>ietf-dorms:metadata/sender[]/group[]/udp-stream[]</c>
    /// (the group's rate is the sum over its UDP streams); and the current <c>ietf-dorms:dorms/metadata/sender[]/group[]</c>.
    /// Unknown fields are ignored. Never throws on input.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> utf8Json, IPAddress source, IPAddress group, out CbaccMetadata metadata, out CbaccError error)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(group);
        metadata = Empty;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            error = new(CbaccFailure.BadJson, "$", $"not JSON: {e.Message}");
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = new(CbaccFailure.BadJson, "$", $"the document is a JSON {Kind(root)}, not an object");
                return false;
            }
            return ReadDocument(root, source, group, out metadata, out error);
        }
    }

    /// <summary>The same, from text.</summary>
    public static bool TryRead(string json, IPAddress source, IPAddress group, out CbaccMetadata metadata, out CbaccError error)
    {
        ArgumentNullException.ThrowIfNull(json);
        return TryRead(System.Text.Encoding.UTF8.GetBytes(json), source, group, out metadata, out error);
    }

    private static readonly CbaccMetadata Empty = new(0, DefaultMaxPacketSize, DefaultDataRateWindow, DefaultPriority, CbaccNameSet.Current);

    private static bool ReadDocument(JsonElement root, IPAddress source, IPAddress group, out CbaccMetadata metadata, out CbaccError error)
    {
        metadata = Empty;
        if (root.TryGetProperty(CbaccContainer, out var bare))
        {
            return ReadCbacc(bare, CbaccContainer, out metadata, out error);
        }
        if (root.TryGetProperty("ietf-dorms:dorms", out var dorms))
        {
            if (!TryObject(dorms, "ietf-dorms:dorms", out error) || !TryChildObject(dorms, "metadata", "ietf-dorms:dorms", out var current, out error))
            {
                return false;
            }
            return ReadSenders(current, "ietf-dorms:dorms/metadata", source, group, out metadata, out error);
        }
        if (root.TryGetProperty("ietf-dorms:metadata", out var older))
        {
            if (!TryObject(older, "ietf-dorms:metadata", out error))
            {
                return false;
            }
            return ReadSenders(older, "ietf-dorms:metadata", source, group, out metadata, out error);
        }
        if (root.TryGetProperty("ietf-dorms:group", out var groups))
        {
            return ReadGroups(groups, "ietf-dorms:group", group, out metadata, out error);
        }
        error = new(CbaccFailure.NotFound, "$", $"no {CbaccContainer}, ietf-dorms:dorms or ietf-dorms:metadata in the document");
        return false;
    }

    private static bool ReadSenders(JsonElement metadataNode, string path, IPAddress source, IPAddress group, out CbaccMetadata metadata, out CbaccError error)
    {
        metadata = Empty;
        if (!TryList(metadataNode, "sender", path, out var senders, out error))
        {
            return false;
        }
        foreach (var sender in senders)
        {
            if (sender.ValueKind == JsonValueKind.Object && KeyMatches(sender, "source-address", source))
            {
                return ReadGroups(sender.TryGetProperty("group", out var groups) ? groups : default, $"{path}/sender={source}/group", group, out metadata, out error);
            }
        }
        error = new(CbaccFailure.NotFound, $"{path}/sender", $"no sender with source-address {source}");
        return false;
    }

    private static bool ReadGroups(JsonElement groups, string path, IPAddress group, out CbaccMetadata metadata, out CbaccError error)
    {
        metadata = Empty;
        if (groups.ValueKind != JsonValueKind.Array)
        {
            error = new(CbaccFailure.NotFound, path, $"{path} is missing or not a list");
            return false;
        }
        foreach (var entry in groups.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object || !KeyMatches(entry, "group-address", group))
            {
                continue;
            }
            string groupPath = $"{path}={group}";
            if (entry.TryGetProperty(CbaccContainer, out var cbacc))
            {
                return ReadCbacc(cbacc, $"{groupPath}/{CbaccContainer}", out metadata, out error);
            }
            if (entry.TryGetProperty("udp-stream", out var streams))
            {
                return ReadUdpStreams(streams, $"{groupPath}/udp-stream", out metadata, out error);
            }
            error = new(CbaccFailure.NotFound, groupPath, $"group {group} has no {CbaccContainer}");
            return false;
        }
        error = new(CbaccFailure.NotFound, path, $"no group with group-address {group}");
        return false;
    }

    /// <summary>The older shape puts a cbacc container on each UDP stream; the group's rate is their sum, its packet
    /// size their maximum.</summary>
    private static bool ReadUdpStreams(JsonElement streams, string path, out CbaccMetadata metadata, out CbaccError error)
    {
        metadata = Empty;
        if (streams.ValueKind != JsonValueKind.Array)
        {
            error = new(CbaccFailure.BadJson, path, $"{path} is not a list");
            return false;
        }
        CbaccMetadata? total = null;
        int index = 0;
        foreach (var stream in streams.EnumerateArray())
        {
            string streamPath = $"{path}[{index++}]";
            if (stream.ValueKind != JsonValueKind.Object || !stream.TryGetProperty(CbaccContainer, out var cbacc))
            {
                continue;
            }
            if (!ReadCbacc(cbacc, $"{streamPath}/{CbaccContainer}", out var one, out error))
            {
                return false;
            }
            total = total is null ? one : total with
            {
                BitsPerSecond = SaturatingAdd(total.BitsPerSecond, one.BitsPerSecond),
                MaxPacketSize = Math.Max(total.MaxPacketSize, one.MaxPacketSize),
            };
        }
        if (total is null)
        {
            error = new(CbaccFailure.NotFound, path, $"no UDP stream carries {CbaccContainer}");
            return false;
        }
        metadata = total;
        error = default;
        return true;
    }

    private static bool ReadCbacc(JsonElement cbacc, string path, out CbaccMetadata metadata, out CbaccError error)
    {
        metadata = Empty;
        if (!TryObject(cbacc, path, out error))
        {
            return false;
        }
        CbaccNameSet nameSet;
        long bitsPerSecond;
        if (cbacc.TryGetProperty("max-speed", out var maxSpeed))
        {
            if (!TryNumber(maxSpeed, $"{path}/max-speed", out long kbps, out error))
            {
                return false;
            }
            if (kbps > long.MaxValue / 1000)
            {
                error = new(CbaccFailure.BadNumber, $"{path}/max-speed", $"max-speed {kbps} kbit/s is too large");
                return false;
            }
            bitsPerSecond = kbps * 1000;
            nameSet = CbaccNameSet.Current;
        }
        else if (cbacc.TryGetProperty("max-bits-per-second", out var maxBits))
        {
            if (!TryNumber(maxBits, $"{path}/max-bits-per-second", out bitsPerSecond, out error))
            {
                return false;
            }
            nameSet = CbaccNameSet.Older;
        }
        else
        {
            error = new(CbaccFailure.Missing, $"{path}/max-speed", "max-speed is missing (it is mandatory; the older max-bits-per-second is absent too)");
            return false;
        }

        long packetSize = DefaultMaxPacketSize;
        string packetLeaf = nameSet == CbaccNameSet.Current ? "max-packet-size" : "max-mss";
        if (cbacc.TryGetProperty(packetLeaf, out var packet) || cbacc.TryGetProperty(nameSet == CbaccNameSet.Current ? "max-mss" : "max-packet-size", out packet))
        {
            if (!TryNumber(packet, $"{path}/{packetLeaf}", out packetSize, out error))
            {
                return false;
            }
            if (packetSize > ushort.MaxValue)
            {
                error = new(CbaccFailure.BadNumber, $"{path}/{packetLeaf}", $"{packetLeaf} {packetSize} is over 65535 octets");
                return false;
            }
        }

        long windowMs = (long)DefaultDataRateWindow.TotalMilliseconds;
        if (cbacc.TryGetProperty("data-rate-window", out var window))
        {
            if (!TryNumber(window, $"{path}/data-rate-window", out windowMs, out error))
            {
                return false;
            }
            if (windowMs > int.MaxValue)
            {
                error = new(CbaccFailure.BadNumber, $"{path}/data-rate-window", $"data-rate-window {windowMs} ms is too large");
                return false;
            }
        }

        long priority = DefaultPriority;
        if (cbacc.TryGetProperty("priority", out var priorityNode) && !TryNumber(priorityNode, $"{path}/priority", out priority, out error))
        {
            return false;
        }

        metadata = new CbaccMetadata(bitsPerSecond, (int)packetSize, TimeSpan.FromMilliseconds(windowMs), priority, nameSet);
        error = default;
        return true;
    }

    /// <summary>A non-negative whole number, as a JSON number or (YANG JSON for 64-bit types, and the older
    /// samples) a JSON string.</summary>
    private static bool TryNumber(JsonElement node, string field, out long value, out CbaccError error)
    {
        value = 0;
        string text;
        if (node.ValueKind == JsonValueKind.Number)
        {
            text = node.GetRawText();
        }
        else if (node.ValueKind == JsonValueKind.String)
        {
            text = node.GetString() ?? string.Empty;
        }
        else
        {
            error = new(CbaccFailure.BadNumber, field, $"{Leaf(field)} is a JSON {Kind(node)}, not a number");
            return false;
        }
        if (!long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            error = new(CbaccFailure.BadNumber, field, $"{Leaf(field)} '{Shorten(text)}' is not a whole number");
            return false;
        }
        if (value < 0)
        {
            error = new(CbaccFailure.Negative, field, $"{Leaf(field)} {value} is negative");
            return false;
        }
        error = default;
        return true;
    }

    private static bool KeyMatches(JsonElement entry, string key, IPAddress expected) =>
        entry.TryGetProperty(key, out var node) && node.ValueKind == JsonValueKind.String &&
        IPAddress.TryParse(node.GetString(), out var address) && address.Equals(expected);

    private static bool TryObject(JsonElement node, string path, out CbaccError error)
    {
        if (node.ValueKind != JsonValueKind.Object)
        {
            error = new(CbaccFailure.BadJson, path, $"{path} is a JSON {Kind(node)}, not an object");
            return false;
        }
        error = default;
        return true;
    }

    private static bool TryChildObject(JsonElement parent, string name, string path, out JsonElement child, out CbaccError error)
    {
        if (!parent.TryGetProperty(name, out child))
        {
            error = new(CbaccFailure.NotFound, $"{path}/{name}", $"{path} has no {name}");
            return false;
        }
        return TryObject(child, $"{path}/{name}", out error);
    }

    private static bool TryList(JsonElement parent, string name, string path, out JsonElement.ArrayEnumerator items, out CbaccError error)
    {
        items = default;
        if (!parent.TryGetProperty(name, out var node))
        {
            error = new(CbaccFailure.NotFound, $"{path}/{name}", $"{path} has no {name} list");
            return false;
        }
        if (node.ValueKind != JsonValueKind.Array)
        {
            error = new(CbaccFailure.BadJson, $"{path}/{name}", $"{path}/{name} is a JSON {Kind(node)}, not a list");
            return false;
        }
        items = node.EnumerateArray();
        error = default;
        return true;
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static string Leaf(string field) => field[(field.LastIndexOf('/') + 1)..];

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string Kind(JsonElement node) => node.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
