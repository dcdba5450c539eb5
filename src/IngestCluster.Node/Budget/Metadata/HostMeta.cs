using System.Text.Json;
using System.Xml;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>
/// The RESTCONF root from a server's host-meta (RFC 8040 §3.1, RFC 6415): the <c>href</c> of the link whose
/// <c>rel</c> is <c>restconf</c>, in the XRD XML of <c>/.well-known/host-meta</c> or the JRD JSON of
/// <c>/.well-known/host-meta.json</c>. Never throws on input.
/// </summary>
public static class HostMeta
{
    public const string XrdPath = "/.well-known/host-meta";
    public const string JsonPath = "/.well-known/host-meta.json";
    public const string RestconfRel = "restconf";

    /// <summary><c>{"links":[{"rel":"restconf","href":"/restconf"}]}</c></summary>
    public static bool TryReadJson(ReadOnlySpan<byte> utf8, out string href)
    {
        href = string.Empty;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 16 });
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("links", out var links) || links.ValueKind != JsonValueKind.Array)
            {
                return false;
            }
            foreach (var link in links.EnumerateArray())
            {
                if (link.ValueKind == JsonValueKind.Object &&
                    link.TryGetProperty("rel", out var rel) && rel.ValueKind == JsonValueKind.String && rel.GetString() == RestconfRel &&
                    link.TryGetProperty("href", out var target) && target.ValueKind == JsonValueKind.String &&
                    target.GetString() is { Length: > 0 } text)
                {
                    href = text;
                    return true;
                }
            }
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary><c>&lt;XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"&gt;&lt;Link rel="restconf" href="/restconf"/&gt;&lt;/XRD&gt;</c></summary>
    public static bool TryReadXrd(ReadOnlySpan<byte> utf8, out string href)
    {
        href = string.Empty;
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true };
        try
        {
            using var stream = new MemoryStream(utf8.ToArray(), writable: false);
            using var reader = XmlReader.Create(stream, settings);
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "Link" &&
                    reader.GetAttribute("rel") == RestconfRel && reader.GetAttribute("href") is { Length: > 0 } text)
                {
                    href = text;
                    return true;
                }
            }
            return false;
        }
        catch (XmlException)
        {
            return false;
        }
    }
}
