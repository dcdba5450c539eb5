using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli;

/// <summary>ingestctl's exit codes (docs/operations.md). Each failure class has its own, so scripts can tell a node
/// that is down from a wrong token from a typo.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Something unexpected: a bug, or an answer that is not the API's.</summary>
    public const int Failed = 1;

    /// <summary>A bad command line, or a request the node refused as malformed (HTTP 400).</summary>
    public const int BadArgument = 2;

    /// <summary>The node did not answer: refused, timed out, or its name did not resolve.</summary>
    public const int Unreachable = 3;

    /// <summary>The node wants a token, or another one (HTTP 401/403).</summary>
    public const int Unauthorized = 4;

    /// <summary>No such member, region, flow, source or override (HTTP 404, or an empty filter).</summary>
    public const int NotFound = 5;

    /// <summary>The node failed to answer the request (HTTP 5xx).</summary>
    public const int NodeError = 6;

    /// <summary>Stopped by Ctrl+C or SIGTERM before the node answered (128 + SIGINT, as shells report it).
    /// <c>cluster tail</c>, which runs until stopped, exits 0 instead.</summary>
    public const int Interrupted = 130;
}

/// <summary>A failure with the exit code it maps to and a message for the operator.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The admin API of one node over HTTP, with its failures turned into <see cref="CliException"/>s.</summary>
public sealed class AdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _node;

    public AdminClient(string node, string? token, TimeSpan timeout, HttpMessageHandler? handler = null)
    {
        _node = node;
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = BaseAddress(node);
        _http.Timeout = timeout;
        if (!string.IsNullOrEmpty(token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary><c>host:port</c>, <c>host</c> (port 9110) or a full <c>http://</c> URL.</summary>
    public static Uri BaseAddress(string node)
    {
        string text = node.Contains("://", StringComparison.Ordinal) ? node : "http://" + node;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            throw new CliException(ExitCodes.BadArgument, $"'{node}' is not a node address: expected host:port, e.g. 127.0.0.1:9110");
        }
        if (!node.Contains("://", StringComparison.Ordinal) && uri.IsDefaultPort)
        {
            uri = new UriBuilder(uri) { Port = 9110 }.Uri;
        }
        return uri;
    }

    public Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellation) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), type, cancellation);

    public Task<T> PostAsync<TBody, T>(string path, TBody? body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<T> type, CancellationToken cancellation) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body, bodyType) }, type, cancellation);

    public Task<T> PutAsync<TBody, T>(string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<T> type, CancellationToken cancellation) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Put, path) { Content = JsonContent.Create(body, bodyType) }, type, cancellation);

    public Task<T> DeleteAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellation) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Delete, path), type, cancellation);

    /// <summary>A POST whose answer is a file (a capture): its bytes and headers.</summary>
    public async Task<(byte[] Content, HttpResponseHeaders Headers)> PostForFileAsync<TBody>(string path, TBody body, JsonTypeInfo<TBody> bodyType,
        CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, bodyType) };
        using var response = await ExchangeAsync(request, cancellation);
        return (await response.Content.ReadAsByteArrayAsync(cancellation), response.Headers);
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        using (request)
        {
            using var response = await ExchangeAsync(request, cancellation);
            try
            {
                return await response.Content.ReadFromJsonAsync(type, cancellation)
                    ?? throw new CliException(ExitCodes.Failed, $"{_node}: an empty answer to {request.RequestUri}");
            }
            catch (JsonException e)
            {
                throw new CliException(ExitCodes.Failed, $"{_node}: {request.RequestUri} did not answer with the admin API's JSON ({e.Message})");
            }
        }
    }

    /// <summary>Sends the request; a successful answer, or its failure as the <see cref="CliException"/> of its exit code.</summary>
    private async Task<HttpResponseMessage> ExchangeAsync(HttpRequestMessage request, CancellationToken cancellation)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellation);
        }
        catch (HttpRequestException e)
        {
            throw new CliException(ExitCodes.Unreachable, $"{_node}: no answer ({Reason(e)})");
        }
        catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Unreachable, $"{_node}: no answer within {_http.Timeout.TotalSeconds:0} s");
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            string error = await ErrorText(response, cancellation);
            throw response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new CliException(ExitCodes.Unauthorized,
                    $"{_node}: unauthorized: {error} (give --token or set INGESTCTL_TOKEN)"),
                HttpStatusCode.NotFound => new CliException(ExitCodes.NotFound, $"{_node}: not found: {error}"),
                HttpStatusCode.BadRequest => new CliException(ExitCodes.BadArgument, $"{_node}: refused: {error}"),
                _ => new CliException(ExitCodes.NodeError, $"{_node}: HTTP {(int)response.StatusCode}: {error}"),
            };
        }
    }

    private static string Reason(HttpRequestException e) => e.InnerException switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } s => $"name not resolved: {s.Message}",
        SocketException s => s.Message,
        { } inner => inner.Message,
        null => e.Message,
    };

    private static async Task<string> ErrorText(HttpResponseMessage response, CancellationToken cancellation)
    {
        string body = await response.Content.ReadAsStringAsync(cancellation);
        try
        {
            return JsonSerializer.Deserialize(body, AdminJson.Default.AdminError)?.Error ?? body;
        }
        catch (JsonException)
        {
            return body.Trim().Length == 0 ? response.ReasonPhrase ?? "" : body.Trim();
        }
    }

    public void Dispose() => _http.Dispose();
}
