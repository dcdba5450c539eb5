using System.Globalization;
using System.Net;
using System.Text.Json;

namespace IngestCluster.Lab;

/// <summary>The <c>dorms</c> subcommand's settings, before the certificate is made.</summary>
internal sealed record DormsSettings(
    IPEndPoint Listen,
    IReadOnlyList<string> Names,
    IReadOnlyList<DormsFlow> Flows,
    string RestconfRoot,
    HostMetaForms HostMeta,
    TimeSpan? MaxAge,
    string? CaCertificate,
    string? CaKey,
    string? WriteCa,
    TimeSpan? Duration,
    TimeSpan ReplyDelay = default);

/// <summary><c>dorms</c>: a lab DORMS server (see <see cref="DormsServer"/>) with a certificate from our own CA.</summary>
internal static class DormsCommand
{
    public const string Usage =
        "usage: IngestCluster.Lab dorms --listen ADDR:PORT [--name DNSNAME] (--flows SPEC | --metadata FILE) [--older-shape] " +
        "[--restconf-root /restconf] [--host-meta both|json|xrd] [--max-age D] [--ca-cert PEM --ca-key PEM] [--write-ca PEM] [--duration D] [--reply-delay D]\n" +
        "    SPEC: S,G,KBPS[,older|garbage|500|redirect-loop|slow|endless...] separated by ';'";

    private static readonly HashSet<string> ValueOptions =
        ["listen", "name", "flows", "metadata", "restconf-root", "host-meta", "max-age", "ca-cert", "ca-key", "write-ca", "duration", "reply-delay"];

    private static readonly HashSet<string> FlagOptions = ["older-shape"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, StatusWriter status)
    {
        var settings = Parse(args);
        using var authority = settings.CaCertificate is { } caCert
            ? LabCertificates.LoadAuthority(caCert, settings.CaKey!)
            : LabCertificates.CreateAuthority("IngestCluster lab DORMS CA");
        if (settings.WriteCa is { } writeCa)
        {
            LabCertificates.WriteCertificatePem(authority, writeCa);
        }
        using var certificate = LabCertificates.IssueServer(authority, settings.Names, [settings.Listen.Address]);
        using var lifetime = new LabLifetime(settings.Duration);
        var server = await DormsServer.StartAsync(new DormsServerOptions(
            settings.Listen, certificate, settings.Flows, settings.RestconfRoot, settings.HostMeta, settings.MaxAge, settings.ReplyDelay)).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            status.Write("started", json =>
            {
                json.WriteString("role", "dorms");
                json.WriteString("listen", server.EndPoint.ToString());
                json.WriteNumber("port", server.EndPoint.Port);
                json.WriteStartArray("names");
                foreach (var name in settings.Names)
                {
                    json.WriteStringValue(name);
                }
                json.WriteEndArray();
                json.WriteString("restconfRoot", settings.RestconfRoot);
                json.WriteNumber("flows", settings.Flows.Count);
                json.WriteString("caSubject", authority.Subject);
                if (settings.WriteCa is not null)
                {
                    json.WriteString("caPem", Path.GetFullPath(settings.WriteCa));
                }
            });
            try
            {
                await Task.Delay(Timeout.Infinite, lifetime.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            status.Write("summary", json =>
            {
                json.WriteString("role", "dorms");
                json.WriteNumber("requests", server.Requests);
                json.WriteNumber("endlessBytesSent", server.EndlessBytesSent);
            });
        }
        return 0;
    }

    public static DormsSettings Parse(IReadOnlyList<string> args)
    {
        var options = LabArguments.Parse(args, ValueOptions, FlagOptions);
        var listenText = options.RequiredText("listen");
        if (!IPEndPoint.TryParse(listenText, out var listen) || !listenText.Contains(':', StringComparison.Ordinal))
        {
            throw new UsageException($"option --listen expects ADDR:PORT, got '{listenText}'");
        }
        var names = options.Text("name") is { } name ? new[] { name.TrimEnd('.') } : [];
        bool older = options.Has("older-shape");
        IReadOnlyList<DormsFlow> flows = (options.Text("flows"), options.Text("metadata")) switch
        {
            ({ } spec, null) => ParseFlows(spec, older),
            (null, { } file) => ReadFlowFile(file, older),
            (null, null) => throw new UsageException("one of --flows or --metadata is required"),
            _ => throw new UsageException("give --flows or --metadata, not both"),
        };
        string root = options.Text("restconf-root") ?? "/restconf";
        if (!root.StartsWith('/'))
        {
            throw new UsageException($"option --restconf-root expects a path starting with '/', got '{root}'");
        }
        var hostMeta = options.Text("host-meta") switch
        {
            null or "both" => HostMetaForms.Both,
            "json" => HostMetaForms.JsonOnly,
            "xrd" => HostMetaForms.XrdOnly,
            var other => throw new UsageException($"option --host-meta expects both, json or xrd, got '{other}'"),
        };
        string? caCert = options.Text("ca-cert");
        string? caKey = options.Text("ca-key");
        if ((caCert is null) != (caKey is null))
        {
            throw new UsageException("options --ca-cert and --ca-key go together");
        }
        return new DormsSettings(listen, names, flows, root, hostMeta, options.Duration("max-age"), caCert, caKey, options.Text("write-ca"), options.Duration("duration"),
            options.Duration("reply-delay") ?? TimeSpan.Zero);
    }

    /// <summary><c>S,G,KBPS[,option...]</c> separated by <c>;</c>; options: <c>older</c> and one misbehaviour.</summary>
    public static IReadOnlyList<DormsFlow> ParseFlows(string spec, bool olderByDefault)
    {
        var flows = new List<DormsFlow>();
        foreach (var entry in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = entry.Split(',', StringSplitOptions.TrimEntries);
            if (fields.Length < 3)
            {
                throw new UsageException($"option --flows: '{entry}' is not S,G,KBPS[,option...]");
            }
            var source = FlowAddress(fields[0], "source", entry);
            var group = FlowAddress(fields[1], "group", entry);
            if (!long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long kbps))
            {
                throw new UsageException($"option --flows: '{fields[2]}' in '{entry}' is not a rate in kbit/s");
            }
            var flow = new DormsFlow(source, group, kbps, Shape: olderByDefault ? DormsShape.Older : DormsShape.Current);
            foreach (var option in fields.Skip(3))
            {
                flow = option == "older" ? flow with { Shape = DormsShape.Older } : flow with { Misbehaviour = Misbehaviour(option, $"option --flows: '{entry}'") };
            }
            flows.Add(flow);
        }
        if (flows.Count == 0)
        {
            throw new UsageException("option --flows names no flow");
        }
        return flows;
    }

    /// <summary>
    /// <c>{"flows":[{"source":"198.51.100.12","group":"232.1.1.1","maxSpeed":2000,"maxPacketSize":1316,
    /// "dataRateWindow":1000,"priority":300,"shape":"older","misbehave":"slow"}]}</c>; maxSpeed in kbit/s, and
    /// all but source, group and maxSpeed optional.
    /// </summary>
    public static IReadOnlyList<DormsFlow> ReadFlowFile(string path, bool olderByDefault)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new UsageException($"option --metadata: cannot read {path}: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("flows", out var list) ||
                list.ValueKind != JsonValueKind.Array)
            {
                throw new UsageException($"option --metadata: {path} has no \"flows\" list");
            }
            var flows = new List<DormsFlow>();
            int index = 0;
            foreach (var item in list.EnumerateArray())
            {
                string where = $"{path}: flows[{index++}]";
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new UsageException($"option --metadata: {where} is not an object");
                }
                var flow = new DormsFlow(
                    FlowAddress(Text(item, "source", where) ?? throw Missing("source"), "source", where),
                    FlowAddress(Text(item, "group", where) ?? throw Missing("group"), "group", where),
                    Number(item, "maxSpeed", where) ?? throw Missing("maxSpeed"),
                    (int?)Number(item, "maxPacketSize", where),
                    (int?)Number(item, "dataRateWindow", where),
                    Number(item, "priority", where),
                    Text(item, "shape", where) switch
                    {
                        null => olderByDefault ? DormsShape.Older : DormsShape.Current,
                        "current" => DormsShape.Current,
                        "older" => DormsShape.Older,
                        var other => throw new UsageException($"option --metadata: {where}: shape '{other}' is neither current nor older"),
                    },
                    Text(item, "misbehave", where) is { } misbehave ? Misbehaviour(misbehave, $"option --metadata: {where}") : DormsMisbehaviour.None);
                flows.Add(flow);

                UsageException Missing(string field) => new($"option --metadata: {where} has no \"{field}\"");
            }
            return flows;
        }
    }

    private static DormsMisbehaviour Misbehaviour(string text, string where) => text switch
    {
        "garbage" => DormsMisbehaviour.Garbage,
        "500" => DormsMisbehaviour.Status500,
        "redirect-loop" => DormsMisbehaviour.RedirectLoop,
        "slow" => DormsMisbehaviour.Slow,
        "endless" => DormsMisbehaviour.Endless,
        _ => throw new UsageException($"{where}: '{text}' is not older, garbage, 500, redirect-loop, slow or endless"),
    };

    private static IPAddress FlowAddress(string text, string what, string where) =>
        IPAddress.TryParse(text, out var address) ? address : throw new UsageException($"{where}: {what} '{text}' is not an IP address");

    private static string? Text(JsonElement item, string name, string where)
    {
        if (!item.TryGetProperty(name, out var node))
        {
            return null;
        }
        return node.ValueKind == JsonValueKind.String ? node.GetString() : throw new UsageException($"option --metadata: {where}: \"{name}\" is not a string");
    }

    private static long? Number(JsonElement item, string name, string where)
    {
        if (!item.TryGetProperty(name, out var node))
        {
            return null;
        }
        if (node.ValueKind != JsonValueKind.Number || !node.TryGetInt64(out long value) || value < 0 || (name != "maxSpeed" && name != "priority" && value > int.MaxValue))
        {
            throw new UsageException($"option --metadata: {where}: \"{name}\" is not a non-negative whole number");
        }
        return value;
    }
}
