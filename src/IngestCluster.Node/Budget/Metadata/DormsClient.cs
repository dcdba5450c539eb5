using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DnsClient;
using DnsClient.Protocol;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Cbacc;
using IngestCluster.Protocols.Driad;

using IngestCluster.Node.Sources;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>Fetches the metadata of one flow. <see cref="DormsClient"/> asks DORMS; tests give a fake.</summary>
public interface IFlowMetadataSource
{
    /// <summary>Never throws for expected failures (DNS, TLS, HTTP, bad bodies): returns
    /// <see cref="MetadataResult.Failed"/> instead. Throws <see cref="OperationCanceledException"/> only when
    /// <paramref name="cancellationToken"/> is cancelled.</summary>
    Task<MetadataResult> FetchAsync(SourceGroup flow, CancellationToken cancellationToken = default);
}

/// <summary>
/// DORMS discovery and CBACC fetch for an (S,G): the SRV record <c>_dorms._tcp.&lt;reverse name of S&gt;</c>, its
/// targets in RFC 2782 order; on each, host-meta for the RESTCONF root, then
/// <c>{root}/data/ietf-dorms:dorms/metadata/sender=S/group=G</c>, falling back to the older
/// <c>{root}/data/ietf-dorms:metadata/sender=S/group=G/ietf-cbacc:cbacc</c>, read with <see cref="CbaccMetadata"/>.
/// HTTPS only, certificates validated (against the system's roots, and an optional extra CA bundle), every request
/// bounded in time and body size, redirects bounded and loops detected, concurrent fetches bounded.
/// Target names are resolved through the same DNS client as the SRV record, not the system resolver. Caches
/// nothing itself: each result carries the time it holds until (<see cref="MetadataLifetime"/>).
/// </summary>
public sealed class DormsClient : IFlowMetadataSource, IDisposable
{
    public const string ServiceLabel = "_dorms._tcp.";
    public const string YangDataJson = "application/yang-data+json";

    private const string FetchesMetric = "ingest_metadata_fetches_total";
    private const string FetchesHelp = "DORMS metadata fetches by result (cache hits not included)";
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly IDnsQuery _dns;
    private readonly MetadataSettings _settings;
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Lock _randomGate = new();
    private readonly SemaphoreSlim _slots;
    private readonly HttpClient _http;
    private readonly X509Certificate2Collection _extraRoots = [];
    private readonly ConcurrentDictionary<string, (IReadOnlyList<IPAddress> Addresses, DateTimeOffset Expires)> _addresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _certificateRejections = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="dns">The node's DNS client (<see cref="Sources.DriadResolver.CreateClient"/>).</param>
    /// <param name="random">For the weighted choice among SRV targets; a seeded one in tests.</param>
    public DormsClient(IDnsQuery dns, MetadataSettings settings, NodeMetrics metrics, TimeProvider time, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxConcurrent, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxBodyBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.MaxRedirects);
        _dns = dns;
        _settings = settings;
        _metrics = metrics;
        _time = time;
        _random = random ?? new Random();
        _slots = new SemaphoreSlim(settings.MaxConcurrent, settings.MaxConcurrent);
        if (settings.CaBundle is { } bundle)
        {
            try
            {
                _extraRoots.ImportFromPemFile(bundle);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"metadata CA bundle {bundle}: {e.Message}", e);
            }
            if (_extraRoots.Count == 0)
            {
                throw new InvalidOperationException($"metadata CA bundle {bundle} holds no certificate");
            }
        }

        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = settings.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxResponseHeadersLength = 16,
            ConnectCallback = ConnectAsync,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateCertificate },
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("IngestCluster-DORMS", "1"));
    }

    public async Task<MetadataResult> FetchAsync(SourceGroup flow, CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        MetadataResult result;
        try
        {
            result = await FetchFlowAsync(flow, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
        _metrics.Counter(FetchesMetric, $"result=\"{result.MetricLabel}\"", FetchesHelp).Increment();
        return result;
    }

    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
        foreach (var root in _extraRoots)
        {
            root.Dispose();
        }
    }

    private async Task<MetadataResult> FetchFlowAsync(SourceGroup flow, CancellationToken cancellationToken)
    {
        string name = ServiceLabel + ReverseName.For(flow.Source);
        var srv = await QueryAsync(name, QueryType.SRV, cancellationToken).ConfigureAwait(false);
        if (srv.Response is not { } response)
        {
            return Failed(MetadataFailure.DnsError, srv.Failure!);
        }
        var records = response.Answers.SrvRecords().ToList();
        if (records.Count == 0)
        {
            return Failed(MetadataFailure.NoSrv, $"no SRV record at {name}", NegativeTtl(response));
        }
        var ttl = TimeSpan.FromSeconds(records.Min(r => Math.Max(0, r.TimeToLive)));
        // RFC 2782: a single record whose target is "." says the service is decidedly not available here.
        var targets = records
            .Where(r => r.Target.Value.TrimEnd('.').Length > 0)
            .Select(r => new SrvTarget(r.Priority, r.Weight, r.Target.Value.TrimEnd('.'), r.Port))
            .ToList();
        if (targets.Count == 0)
        {
            return Failed(MetadataFailure.NoSrv, $"the SRV record at {name} has target \".\": no DORMS for {flow.Source}", ttl);
        }

        IReadOnlyList<SrvTarget> ordered;
        lock (_randomGate)
        {
            ordered = SrvOrdering.Order(targets, _random);
        }

        MetadataResult.Failed? first = null;
        foreach (var target in ordered)
        {
            var result = await FetchFromTargetAsync(flow, target, ttl, cancellationToken).ConfigureAwait(false);
            if (result is not MetadataResult.Failed failed)
            {
                return result;
            }
            first ??= failed;
            if (!WorthAnotherTarget(failed.Failure))
            {
                break;
            }
        }
        return ordered.Count == 1 ? first! : first! with { Reason = $"{first!.Reason} (first of {ordered.Count} targets, none answered)" };
    }

    /// <summary>A failure of the server or the way to it, which another target may not have (RFC 2782: try the next).</summary>
    private static bool WorthAnotherTarget(MetadataFailure failure) => failure is
        MetadataFailure.DnsError or MetadataFailure.Connection or MetadataFailure.Timeout or MetadataFailure.BadCertificate or
        MetadataFailure.Tls or MetadataFailure.HttpStatus or MetadataFailure.NoRestconfRoot;

    private async Task<MetadataResult> FetchFromTargetAsync(SourceGroup flow, SrvTarget target, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (Uri.CheckHostName(target.Host) is UriHostNameType.Unknown or UriHostNameType.Basic)
        {
            return Failed(MetadataFailure.DnsError, $"SRV target '{target.Host}' is not a host name");
        }
        if (!IPAddress.TryParse(target.Host, out _))
        {
            var resolved = await ResolveHostAsync(target.Host, cancellationToken).ConfigureAwait(false);
            if (resolved.Failure is not null)
            {
                return Failed(MetadataFailure.DnsError, resolved.Failure);
            }
            ttl = resolved.Ttl < ttl ? resolved.Ttl : ttl;
        }
        var server = new UriBuilder(Uri.UriSchemeHttps, target.Host, target.Port).Uri;

        var (root, rootFailure) = await DiscoverRootAsync(server, cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return rootFailure!;
        }

        string sender = Uri.EscapeDataString(flow.Source.ToString());
        string group = Uri.EscapeDataString(flow.Group.ToString());
        string rootText = root.AbsoluteUri.TrimEnd('/');
        var current = new Uri($"{rootText}/data/ietf-dorms:dorms/metadata/sender={sender}/group={group}");
        var older = new Uri($"{rootText}/data/ietf-dorms:metadata/sender={sender}/group={group}/ietf-cbacc:cbacc");

        var fetch = await GetAsync(current, YangDataJson, cancellationToken).ConfigureAwait(false);
        if (fetch.Failure is not null)
        {
            return fetch.Failure;
        }
        if (IsNoSuchResource(fetch.Status))
        {
            var first = fetch;
            fetch = await GetAsync(older, YangDataJson, cancellationToken).ConfigureAwait(false);
            if (fetch.Failure is not null)
            {
                return fetch.Failure;
            }
            if (IsNoSuchResource(fetch.Status))
            {
                return new MetadataResult.NotFound(
                    $"{target.Host}:{target.Port} has no metadata for {flow} (HTTP {(int)first.Status} at the current path, {(int)fetch.Status} at the older one)",
                    MetadataLifetime.ForNegative(_time.GetUtcNow(), fetch.Lifetime, _settings));
            }
        }
        if (!IsSuccess(fetch.Status))
        {
            return Failed(MetadataFailure.HttpStatus, $"HTTP {(int)fetch.Status} {fetch.Status} from {fetch.Uri}");
        }

        if (!CbaccMetadata.TryRead(fetch.Body, flow.Source, flow.Group, out var metadata, out var error))
        {
            if (error.Kind == CbaccFailure.NotFound)
            {
                return new MetadataResult.NotFound($"{fetch.Uri}: {error.Message}", MetadataLifetime.ForNegative(_time.GetUtcNow(), fetch.Lifetime, _settings));
            }
            return Failed(MetadataFailure.BadBody, $"{fetch.Uri}: {error}");
        }
        return new MetadataResult.Found(metadata, MetadataLifetime.ForFound(_time.GetUtcNow(), ttl, fetch.Lifetime, _settings));
    }

    /// <summary>host-meta.json first, then the XRD; a transport failure on the first ends the search.</summary>
    private async Task<(Uri? Root, MetadataResult.Failed? Failure)> DiscoverRootAsync(Uri server, CancellationToken cancellationToken)
    {
        var json = await GetAsync(new Uri(server, HostMeta.JsonPath), "application/json", cancellationToken).ConfigureAwait(false);
        if (json.Failure is not null)
        {
            return (null, json.Failure);
        }
        string href;
        string jsonOutcome;
        if (IsSuccess(json.Status) && HostMeta.TryReadJson(json.Body, out href))
        {
            return Root(json.Uri, href);
        }
        jsonOutcome = IsSuccess(json.Status) ? "no restconf link" : $"HTTP {(int)json.Status}";

        var xrd = await GetAsync(new Uri(server, HostMeta.XrdPath), "application/xrd+xml", cancellationToken).ConfigureAwait(false);
        if (xrd.Failure is not null)
        {
            return (null, xrd.Failure);
        }
        if (IsSuccess(xrd.Status) && HostMeta.TryReadXrd(xrd.Body, out href))
        {
            return Root(xrd.Uri, href);
        }
        string xrdOutcome = IsSuccess(xrd.Status) ? "no restconf link" : $"HTTP {(int)xrd.Status}";
        return (null, Failed(MetadataFailure.NoRestconfRoot,
            $"{server.Authority} names no RESTCONF root ({HostMeta.JsonPath}: {jsonOutcome}; {HostMeta.XrdPath}: {xrdOutcome})"));

        (Uri?, MetadataResult.Failed?) Root(Uri from, string link)
        {
            if (!Uri.TryCreate(from, link, out var root) || root.Scheme != Uri.UriSchemeHttps)
            {
                return (null, Failed(MetadataFailure.NoRestconfRoot, $"{from}: the restconf link '{link}' is not an https URL"));
            }
            return (root, null);
        }
    }

    private static bool IsSuccess(HttpStatusCode status) => (int)status is >= 200 and <= 299;

    /// <summary>404, or 400 (a RESTCONF server that does not know the module answers "unknown-element").</summary>
    private static bool IsNoSuchResource(HttpStatusCode status) => status is HttpStatusCode.NotFound or HttpStatusCode.BadRequest;

    /// <summary>A response read whole, or why not.</summary>
    private sealed record HttpFetch(Uri Uri, HttpStatusCode Status, byte[] Body, TimeSpan? Lifetime, MetadataResult.Failed? Failure);

    /// <summary>One GET, following redirects by hand (https only, at most MaxRedirects, no URL twice), each request
    /// with its own timeout, the body read up to MaxBodyBytes.</summary>
    private async Task<HttpFetch> GetAsync(Uri uri, string accept, CancellationToken cancellationToken)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal) { uri.AbsoluteUri };
        for (int redirects = 0; ; redirects++)
        {
            using var timeout = new CancellationTokenSource(_settings.Timeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Accept.ParseAdd(accept);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Failure(MetadataFailure.Timeout, $"no answer from {uri} within {_settings.Timeout.TotalSeconds:0.###} s");
            }
            catch (HttpRequestException e)
            {
                var (kind, reason) = Classify(e, uri);
                return Failure(kind, reason);
            }

            using (response)
            {
                if ((int)response.StatusCode is 301 or 302 or 303 or 307 or 308)
                {
                    var location = response.Headers.Location;
                    if (location is null || !Uri.TryCreate(uri, location, out var next))
                    {
                        return Failure(MetadataFailure.BadRedirect, $"{uri} redirects without a usable Location");
                    }
                    if (next.Scheme != Uri.UriSchemeHttps)
                    {
                        return Failure(MetadataFailure.BadRedirect, $"{uri} redirects to {next}, which is not https");
                    }
                    if (!visited.Add(next.AbsoluteUri))
                    {
                        return Failure(MetadataFailure.RedirectLoop, $"{uri} redirects back to {next}, already visited");
                    }
                    if (redirects >= _settings.MaxRedirects)
                    {
                        return Failure(MetadataFailure.TooManyRedirects, $"more than {_settings.MaxRedirects} redirects from {visited.First()}");
                    }
                    uri = next;
                    continue;
                }

                if (response.Content.Headers.ContentLength is long length && length > _settings.MaxBodyBytes)
                {
                    return Failure(MetadataFailure.TooLarge, $"{uri} announces a body of {length} bytes, over the {_settings.MaxBodyBytes} allowed");
                }
                try
                {
                    var body = await ReadCappedAsync(response.Content, linked.Token).ConfigureAwait(false);
                    if (body is null)
                    {
                        return Failure(MetadataFailure.TooLarge, $"the body from {uri} is longer than {_settings.MaxBodyBytes} bytes; stopped reading");
                    }
                    return new HttpFetch(uri, response.StatusCode, body, HttpFreshness.Lifetime(response, _time.GetUtcNow()), null);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return Failure(MetadataFailure.Timeout, $"the body from {uri} was not complete within {_settings.Timeout.TotalSeconds:0.###} s");
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    return Failure(MetadataFailure.Connection, $"reading the body from {uri}: {e.GetBaseException().Message}");
                }
            }
        }

        HttpFetch Failure(MetadataFailure kind, string reason) => new(uri, 0, [], null, Failed(kind, reason));
    }

    /// <summary>The whole body, or null as soon as it passes MaxBodyBytes (the rest is never read).</summary>
    private async Task<byte[]?> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[_settings.MaxBodyBytes + 1];
            int total = 0;
            while (true)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer[..total];
                }
                total += read;
                if (total > _settings.MaxBodyBytes)
                {
                    return null;
                }
            }
        }
    }

    private (MetadataFailure Kind, string Reason) Classify(HttpRequestException e, Uri uri)
    {
        if (e.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            return _certificateRejections.TryGetValue(uri.Host, out var why)
                ? (MetadataFailure.BadCertificate, $"{uri.Authority}: {why}")
                : (MetadataFailure.Tls, $"TLS with {uri.Authority} failed: {e.GetBaseException().Message}");
        }
        if (FindInner<TargetResolutionException>(e) is { } unresolved)
        {
            return (MetadataFailure.DnsError, unresolved.Message);
        }
        return (MetadataFailure.Connection, $"{uri.Authority}: {e.HttpRequestError}: {e.GetBaseException().Message}");
    }

    private static T? FindInner<T>(Exception e) where T : Exception
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is T found)
            {
                return found;
            }
        }
        return null;
    }

    /// <summary>
    /// The system's validation first; if it fails only on the chain and there is an extra CA bundle, the chain is
    /// built again with those CAs as the only roots (a custom trust store, not "accept anything"). A name mismatch
    /// is never forgiven. Each host's last rejection is remembered, to say why its request failed.
    /// </summary>
    private bool ValidateCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        string host = (sender as SslStream)?.TargetHostName ?? string.Empty;
        string? rejection = Check(certificate, chain, errors);
        if (rejection is null)
        {
            _certificateRejections.TryRemove(host, out _);
            return true;
        }
        _certificateRejections[host] = rejection;
        return false;
    }

    private string? Check(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return null;
        }
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the server sent no certificate";
        }
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"certificate '{leaf.Subject}' is not for this name";
        }
        string systemVerdict = ChainStatus(chain);
        if (_extraRoots.Count == 0)
        {
            return $"certificate '{leaf.Subject}' (issuer '{leaf.Issuer}') does not validate: {systemVerdict}";
        }
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_extraRoots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        if (custom.Build(leaf))
        {
            return null;
        }
        return $"certificate '{leaf.Subject}' (issuer '{leaf.Issuer}') is trusted neither by the system ({systemVerdict}) nor by the CA bundle ({ChainStatus(custom)})";
    }

    private static string ChainStatus(X509Chain? chain)
    {
        if (chain is null || chain.ChainStatus.Length == 0)
        {
            return "no chain";
        }
        return string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
    }

    /// <summary>Connects to the URL's host through our DNS client (the system resolver knows nothing of DORMS
    /// targets in a lab, and need not agree with the name server DRIAD asks).</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        string host = context.DnsEndPoint.Host;
        IReadOnlyList<IPAddress> addresses;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            var resolved = await ResolveHostAsync(host, cancellationToken).ConfigureAwait(false);
            if (resolved.Failure is not null)
            {
                throw new TargetResolutionException(resolved.Failure);
            }
            addresses = resolved.Addresses;
        }

        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>A and AAAA of <paramref name="host"/>, cached for their TTL (the connect callback asks again).</summary>
    private async Task<(IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl, string? Failure)> ResolveHostAsync(string host, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_addresses.TryGetValue(host, out var cached) && cached.Expires > now)
        {
            return (cached.Addresses, cached.Expires - now, null);
        }
        var answers = await Task.WhenAll(
            QueryAsync(host, QueryType.A, cancellationToken),
            QueryAsync(host, QueryType.AAAA, cancellationToken)).ConfigureAwait(false);
        var addresses = new List<IPAddress>();
        long ttl = long.MaxValue;
        var failures = new List<string>();
        foreach (var (response, failure) in answers)
        {
            if (response is null)
            {
                failures.Add(failure!);
                continue;
            }
            foreach (var record in response.Answers)
            {
                IPAddress? address = record switch
                {
                    ARecord a => a.Address,
                    AaaaRecord aaaa => aaaa.Address,
                    _ => null,
                };
                if (address is not null && !addresses.Contains(address))
                {
                    addresses.Add(address);
                    ttl = Math.Min(ttl, Math.Max(0, record.TimeToLive));
                }
            }
        }
        if (addresses.Count == 0)
        {
            string why = failures.Count > 0 ? string.Join("; ", failures) : "no A or AAAA record";
            return ([], TimeSpan.Zero, $"DORMS target {host} does not resolve: {why}");
        }
        // IPv4 first: a lab's loopback server listens there, and most DORMS servers are dual-stack anyway.
        addresses = [.. addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)];
        var lifetime = TimeSpan.FromSeconds(ttl);
        _addresses[host] = (addresses, now + (lifetime < _settings.MinTtl ? _settings.MinTtl : lifetime));
        return (addresses, lifetime, null);
    }

    private Task<(IDnsQueryResponse? Response, string? Failure)> QueryAsync(string name, QueryType type, CancellationToken cancellationToken) =>
        DnsQueries.QueryAsync(_dns, name, type, cancellationToken);

    /// <summary>RFC 2308: a negative answer holds for the SOA's TTL or its MINIMUM, whichever is less.</summary>
    private static TimeSpan? NegativeTtl(IDnsQueryResponse response) =>
        response.Authorities.SoaRecords().FirstOrDefault() is { } soa ? TimeSpan.FromSeconds(Math.Min(Math.Max(0, soa.TimeToLive), soa.Minimum)) : null;

    private MetadataResult.Failed Failed(MetadataFailure failure, string reason, TimeSpan? shorterHint = null) =>
        new(failure, reason, MetadataLifetime.ForNegative(_time.GetUtcNow(), shorterHint, _settings));

    /// <summary>Thrown inside the connect callback when the URL's host does not resolve; HttpClient wraps it.</summary>
    private sealed class TargetResolutionException(string message) : Exception(message);
}
