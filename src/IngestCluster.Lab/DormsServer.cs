using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IngestCluster.Lab;

/// <summary>Which generation of DORMS paths and CBACC names a flow is served in.</summary>
internal enum DormsShape
{
    /// <summary><c>{root}/data/ietf-dorms:dorms/metadata/sender=S/group=G</c> with <c>max-speed</c> in kbit/s.</summary>
    Current,
    /// <summary>The 2021 proof of concept's <c>{root}/data/ietf-dorms:metadata/sender=S/group=G/ietf-cbacc:cbacc</c>
    /// with <c>max-bits-per-second</c> in bit/s.</summary>
    Older,
}

/// <summary>How the server misbehaves for one flow, for tests of the client.</summary>
internal enum DormsMisbehaviour
{
    None,
    /// <summary>200 with a body that is not JSON.</summary>
    Garbage,
    /// <summary>500 with a RESTCONF error body.</summary>
    Status500,
    /// <summary>A 307 to the same path with <c>?loop=1</c>, which redirects back.</summary>
    RedirectLoop,
    /// <summary>Never answers: the request is held until the client gives up or the server stops.</summary>
    Slow,
    /// <summary>200 and a body that never ends (JSON-looking, no Content-Length).</summary>
    Endless,
}

/// <summary>The CBACC metadata of one (S,G), as served.</summary>
/// <param name="MaxSpeedKbps">The rate in kbit/s (the current draft's unit; the older shape says kbit/s × 1000 bit/s).</param>
internal sealed record DormsFlow(
    IPAddress Source,
    IPAddress Group,
    long MaxSpeedKbps,
    int? MaxPacketSize = null,
    int? DataRateWindowMs = null,
    long? Priority = null,
    DormsShape Shape = DormsShape.Current,
    DormsMisbehaviour Misbehaviour = DormsMisbehaviour.None);

/// <summary>Which host-meta documents the server offers.</summary>
internal enum HostMetaForms
{
    Both,
    JsonOnly,
    XrdOnly,
}

internal sealed record DormsServerOptions(
    IPEndPoint Listen,
    X509Certificate2 Certificate,
    IReadOnlyList<DormsFlow> Flows,
    string RestconfRoot = "/restconf",
    HostMetaForms HostMeta = HostMetaForms.Both,
    TimeSpan? MaxAge = null,
    TimeSpan ReplyDelay = default);

/// <summary>
/// A lab DORMS server (draft-ietf-mboned-dorms over RESTCONF, RFC 8040) on Kestrel, HTTPS only: host-meta in JRD
/// JSON and XRD XML naming the RESTCONF root, the whole <c>ietf-dorms:dorms</c> document, and each flow's CBACC
/// metadata at its path in the current or the older shape, or misbehaving as the flow says. Flows it does not know
/// are 404, as are the paths of the other shape. Started by <see cref="StartAsync"/>, stopped by
/// <see cref="DisposeAsync"/>; requests held by <see cref="DormsMisbehaviour.Slow"/> end at the stop.
/// </summary>
internal sealed class DormsServer : IAsyncDisposable
{
    private const string YangDataJson = "application/yang-data+json";
    private const int EndlessChunk = 4096;

    private readonly WebApplication _app;
    private readonly DormsServerOptions _options;
    private readonly string _root;
    private readonly Dictionary<(IPAddress Source, IPAddress Group), DormsFlow> _flows = [];
    private readonly CancellationTokenSource _stopping = new();
    private long _requests, _held, _endless, _endlessBytes;

    private DormsServer(WebApplication app, DormsServerOptions options)
    {
        _app = app;
        _options = options;
        _root = "/" + options.RestconfRoot.Trim('/');
        foreach (var flow in options.Flows)
        {
            if (!_flows.TryAdd((flow.Source, flow.Group), flow))
            {
                throw new ArgumentException($"flow ({flow.Source},{flow.Group}) is given twice");
            }
        }
        app.Run(HandleAsync);
    }

    /// <summary>Where it listens (the real port when the options asked for port 0).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>Requests received so far.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary><see cref="DormsMisbehaviour.Slow"/> requests being held now.</summary>
    public long HeldRequests => Interlocked.Read(ref _held);

    /// <summary><see cref="DormsMisbehaviour.Endless"/> responses being written now.</summary>
    public long OpenEndlessResponses => Interlocked.Read(ref _endless);

    /// <summary>Body bytes sent by <see cref="DormsMisbehaviour.Endless"/> flows so far.</summary>
    public long EndlessBytesSent => Interlocked.Read(ref _endlessBytes);

    public static async Task<DormsServer> StartAsync(DormsServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The empty builder reads no configuration files or environment: a lab server must not pick up a stray
        // appsettings.json's endpoints.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "IngestCluster.Lab.Dorms" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(options.Listen, listen => listen.UseHttps(options.Certificate));
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(3));
        var server = new DormsServer(builder.Build(), options);
        await server._app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (bound is not null && Uri.TryCreate(bound, UriKind.Absolute, out var uri))
        {
            server.EndPoint = new IPEndPoint(options.Listen.Address, uri.Port);
        }
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        if (_options.ReplyDelay > TimeSpan.Zero)
        {
            // A server that far away: every answer takes this long to come back (--reply-delay).
            await Task.Delay(_options.ReplyDelay, context.RequestAborted).ConfigureAwait(false);
        }
        var request = context.Request;
        var response = context.Response;
        string path = request.Path.Value ?? "/";
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        if (path == "/.well-known/host-meta.json" && _options.HostMeta != HostMetaForms.XrdOnly)
        {
            await WriteAsync(response, "application/json", $$"""{"links":[{"rel":"restconf","href":"{{_root}}"}]}""", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (path == "/.well-known/host-meta" && _options.HostMeta != HostMetaForms.JsonOnly)
        {
            await WriteAsync(response, "application/xrd+xml",
                $"""<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"><Link rel="restconf" href="{_root}"/></XRD>""",
                context.RequestAborted).ConfigureAwait(false);
            return;
        }

        string data = _root + "/data/";
        if (!path.StartsWith(data, StringComparison.Ordinal))
        {
            await NotFoundAsync(response, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        string resource = path[data.Length..].TrimEnd('/');
        if (resource == "ietf-dorms:dorms")
        {
            SetCaching(response);
            await WriteAsync(response, YangDataJson, Document(), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        DormsShape shape;
        string rest;
        const string CurrentPrefix = "ietf-dorms:dorms/metadata/";
        const string OlderPrefix = "ietf-dorms:metadata/";
        const string OlderSuffix = "/ietf-cbacc:cbacc";
        if (resource.StartsWith(CurrentPrefix, StringComparison.Ordinal))
        {
            shape = DormsShape.Current;
            rest = resource[CurrentPrefix.Length..];
        }
        else if (resource.StartsWith(OlderPrefix, StringComparison.Ordinal) && resource.EndsWith(OlderSuffix, StringComparison.Ordinal))
        {
            shape = DormsShape.Older;
            rest = resource[OlderPrefix.Length..^OlderSuffix.Length];
        }
        else
        {
            await NotFoundAsync(response, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!TryKeys(rest, out var source, out var group) || !_flows.TryGetValue((source, group), out var flow) || flow.Shape != shape)
        {
            await NotFoundAsync(response, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        await ServeFlowAsync(context, flow).ConfigureAwait(false);
    }

    private async Task ServeFlowAsync(HttpContext context, DormsFlow flow)
    {
        var response = context.Response;
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        switch (flow.Misbehaviour)
        {
            case DormsMisbehaviour.Garbage:
                await WriteAsync(response, YangDataJson, "{\"ietf-cbacc:cbacc\": this is not JSON <html>", aborted.Token).ConfigureAwait(false);
                return;

            case DormsMisbehaviour.Status500:
                response.StatusCode = StatusCodes.Status500InternalServerError;
                await WriteAsync(response, YangDataJson,
                    """{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"operation-failed","error-message":"lab: told to fail"}]}}""",
                    aborted.Token).ConfigureAwait(false);
                return;

            case DormsMisbehaviour.RedirectLoop:
                response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                string self = context.Request.PathBase + context.Request.Path;
                response.Headers.Location = context.Request.Query.ContainsKey("loop") ? self : self + "?loop=1";
                return;

            case DormsMisbehaviour.Slow:
                Interlocked.Increment(ref _held);
                try
                {
                    await Task.Delay(Timeout.Infinite, aborted.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
                finally
                {
                    Interlocked.Decrement(ref _held);
                }
                context.Abort();
                return;

            case DormsMisbehaviour.Endless:
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = YangDataJson;
                var chunk = new byte[EndlessChunk];
                Array.Fill(chunk, (byte)'x');
                Interlocked.Increment(ref _endless);
                try
                {
                    await response.Body.WriteAsync("{\"ietf-cbacc:cbacc\":{\"max-speed\":1,\"padding\":\""u8.ToArray(), aborted.Token).ConfigureAwait(false);
                    while (!aborted.IsCancellationRequested)
                    {
                        await response.Body.WriteAsync(chunk, aborted.Token).ConfigureAwait(false);
                        await response.Body.FlushAsync(aborted.Token).ConfigureAwait(false);
                        Interlocked.Add(ref _endlessBytes, chunk.Length);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    // The client stopped reading and went away, as it should.
                }
                finally
                {
                    Interlocked.Decrement(ref _endless);
                }
                context.Abort();
                return;

            default:
                SetCaching(response);
                await WriteAsync(response, YangDataJson, flow.Shape == DormsShape.Current ? CurrentGroup(flow) : OlderCbacc(flow), aborted.Token)
                    .ConfigureAwait(false);
                return;
        }
    }

    /// <summary><c>sender=S/group=G</c>, the keys percent-decoded (an IPv6 key arrives as <c>2001%3Adb8%3A%3A4</c>).</summary>
    private static bool TryKeys(string rest, out IPAddress source, out IPAddress group)
    {
        source = group = IPAddress.None;
        var parts = rest.Split('/');
        return parts.Length == 2 &&
            parts[0].StartsWith("sender=", StringComparison.Ordinal) &&
            parts[1].StartsWith("group=", StringComparison.Ordinal) &&
            IPAddress.TryParse(Uri.UnescapeDataString(parts[0]["sender=".Length..]), out source!) &&
            IPAddress.TryParse(Uri.UnescapeDataString(parts[1]["group=".Length..]), out group!);
    }

    private void SetCaching(HttpResponse response)
    {
        if (_options.MaxAge is { } maxAge)
        {
            response.Headers.CacheControl = $"max-age={(long)maxAge.TotalSeconds}";
        }
    }

    private static Task NotFoundAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status404NotFound;
        return WriteAsync(response, YangDataJson,
            """{"ietf-restconf:errors":{"error":[{"error-type":"protocol","error-tag":"invalid-value","error-message":"no such resource"}]}}""",
            cancellationToken);
    }

    private static async Task WriteAsync(HttpResponse response, string contentType, string body, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.ContentType = contentType;
        response.ContentLength = bytes.Length;
        try
        {
            await response.Body.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }

    /// <summary>The response to GET of the current path: the group list entry with its cbacc container.</summary>
    private static string CurrentGroup(DormsFlow flow) => Json(json =>
    {
        json.WriteStartObject();
        json.WriteStartArray("ietf-dorms:group");
        WriteGroup(json, flow);
        json.WriteEndArray();
        json.WriteEndObject();
    });

    /// <summary>The response to GET of the older path: the cbacc container, numbers as strings as the 2021 samples have them.</summary>
    private static string OlderCbacc(DormsFlow flow) => Json(json =>
    {
        json.WriteStartObject();
        json.WriteStartObject("ietf-cbacc:cbacc");
        json.WriteString("max-bits-per-second", (flow.MaxSpeedKbps * 1000).ToString(CultureInfo.InvariantCulture));
        if (flow.MaxPacketSize is { } mss)
        {
            json.WriteString("max-mss", mss.ToString(CultureInfo.InvariantCulture));
        }
        json.WriteEndObject();
        json.WriteEndObject();
    });

    /// <summary>The whole <c>ietf-dorms:dorms</c> document of the well-behaved current-shape flows.</summary>
    private string Document() => Json(json =>
    {
        json.WriteStartObject();
        json.WriteStartObject("ietf-dorms:dorms");
        json.WriteStartObject("metadata");
        json.WriteStartArray("sender");
        foreach (var sender in _flows.Values.Where(f => f.Shape == DormsShape.Current && f.Misbehaviour == DormsMisbehaviour.None).GroupBy(f => f.Source))
        {
            json.WriteStartObject();
            json.WriteString("source-address", sender.Key.ToString());
            json.WriteStartArray("group");
            foreach (var flow in sender)
            {
                WriteGroup(json, flow);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    });

    private static void WriteGroup(Utf8JsonWriter json, DormsFlow flow)
    {
        json.WriteStartObject();
        json.WriteString("group-address", flow.Group.ToString());
        json.WriteStartObject("ietf-cbacc:cbacc");
        json.WriteNumber("max-speed", flow.MaxSpeedKbps);
        if (flow.MaxPacketSize is { } size)
        {
            json.WriteNumber("max-packet-size", size);
        }
        if (flow.DataRateWindowMs is { } window)
        {
            json.WriteNumber("data-rate-window", window);
        }
        if (flow.Priority is { } priority)
        {
            json.WriteNumber("priority", priority);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
