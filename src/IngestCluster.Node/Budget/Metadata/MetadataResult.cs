using IngestCluster.Protocols.Cbacc;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>Why a metadata fetch failed. Stable: the <c>ingest_metadata_fetches_total</c> label is made from it.</summary>
public enum MetadataFailure
{
    /// <summary>Fetching is switched off (<see cref="MetadataSettings.Enabled"/>).</summary>
    Disabled,
    /// <summary>No <c>_dorms._tcp</c> SRV record at the source's reverse name (or only the "." target).</summary>
    NoSrv,
    /// <summary>DNS did not answer usefully: a timeout, SERVFAIL, a target name without addresses.</summary>
    DnsError,
    /// <summary>No TCP connection to any address of the target, or it broke, or the server spoke broken HTTP.</summary>
    Connection,
    /// <summary>An HTTP request took longer than <see cref="MetadataSettings.Timeout"/>.</summary>
    Timeout,
    /// <summary>The server's certificate did not validate (untrusted CA, wrong name, expired).</summary>
    BadCertificate,
    /// <summary>The TLS handshake failed for another reason.</summary>
    Tls,
    /// <summary>The server answered with an HTTP status we cannot use (5xx, 403, ...).</summary>
    HttpStatus,
    /// <summary>The body was longer than <see cref="MetadataSettings.MaxBodyBytes"/>.</summary>
    TooLarge,
    /// <summary>A redirect led back to a URL already visited.</summary>
    RedirectLoop,
    /// <summary>More than <see cref="MetadataSettings.MaxRedirects"/> redirects.</summary>
    TooManyRedirects,
    /// <summary>A redirect without a usable Location, or to something other than https.</summary>
    BadRedirect,
    /// <summary>host-meta (JSON or XRD) named no RESTCONF root.</summary>
    NoRestconfRoot,
    /// <summary>The body is not CBACC metadata (not JSON, a mandatory leaf missing, a bad number).</summary>
    BadBody,
    /// <summary>A bug: the fetch threw. The sentence carries the exception.</summary>
    Internal,
}

/// <summary>
/// What a metadata lookup for one (S,G) came to, and until when it holds. Expected failures are results, never
/// exceptions; every result, negative ones included, is cached until <see cref="Expires"/>.
/// </summary>
public abstract record MetadataResult(DateTimeOffset Expires)
{
    /// <summary>A sentence for status output and logs.</summary>
    public abstract string Detail { get; }

    /// <summary>The label value of <c>ingest_metadata_fetches_total{result=...}</c>.</summary>
    public abstract string MetricLabel { get; }

    /// <summary>The DORMS server had CBACC metadata for the flow.</summary>
    public sealed record Found(CbaccMetadata Metadata, DateTimeOffset Expires) : MetadataResult(Expires)
    {
        public override string Detail => $"{Metadata.BitsPerSecond} bit/s ({Metadata.NameSet} names)";

        public override string MetricLabel => "found";
    }

    /// <summary>A DORMS server answered, and has nothing for this flow (404 on both paths, or a document without it).</summary>
    public sealed record NotFound(string Reason, DateTimeOffset Expires) : MetadataResult(Expires)
    {
        public override string Detail => $"no metadata: {Reason}";

        public override string MetricLabel => "not_found";
    }

    /// <summary>The lookup failed; <see cref="Reason"/> says how, for people.</summary>
    public sealed record Failed(MetadataFailure Failure, string Reason, DateTimeOffset Expires) : MetadataResult(Expires)
    {
        public override string Detail => $"{Failure}: {Reason}";

        public override string MetricLabel => Label(Failure);
    }

    /// <summary><c>NoSrv</c> → <c>no_srv</c>, <c>BadCertificate</c> → <c>bad_certificate</c>.</summary>
    public static string Label(MetadataFailure failure)
    {
        string name = failure.ToString();
        var label = new System.Text.StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && !char.IsUpper(name[i - 1]))
            {
                label.Append('_');
            }
            label.Append(char.ToLowerInvariant(name[i]));
        }
        return label.ToString();
    }
}
