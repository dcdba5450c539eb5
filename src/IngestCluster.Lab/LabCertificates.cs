using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IngestCluster.Lab;

/// <summary>
/// Certificates for lab servers: a CA of our own and server certificates it signs, for given DNS names and IP
/// addresses, all made in memory with <see cref="CertificateRequest"/> (ECDSA P-256, SHA-256). The CA is written as
/// PEM so that a client (the node's DORMS client, curl) can trust it and nothing else.
/// </summary>
internal static class LabCertificates
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>A self-signed CA, with its private key, valid from an hour ago for <paramref name="validity"/>
    /// (30 days by default).</summary>
    public static X509Certificate2 CreateAuthority(string commonName, TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}, O=IngestCluster lab"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        using var authority = request.CreateSelfSigned(now.AddHours(-1), now + (validity ?? TimeSpan.FromDays(30)));
        return Reload(authority);
    }

    /// <summary>A server certificate signed by <paramref name="authority"/> (which must hold its private key), with
    /// its own private key, for every name and address given (subject alternative names), for TLS server use only.</summary>
    public static X509Certificate2 IssueServer(X509Certificate2 authority, IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> addresses, TimeSpan? validity = null)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        if (!authority.HasPrivateKey)
        {
            throw new ArgumentException("the CA certificate has no private key to sign with", nameof(authority));
        }
        if (dnsNames.Count == 0 && addresses.Count == 0)
        {
            throw new ArgumentException("a server certificate needs at least one DNS name or IP address");
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string commonName = dnsNames.Count > 0 ? dnsNames[0] : addresses[0].ToString();
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            names.AddDnsName(name.TrimEnd('.'));
        }
        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }
        request.CertificateExtensions.Add(names.Build());

        var now = DateTimeOffset.UtcNow;
        var notAfter = now + (validity ?? TimeSpan.FromDays(7));
        if (notAfter > authority.NotAfter)
        {
            notAfter = authority.NotAfter;
        }
        using var signed = request.Create(authority, now.AddHours(-1), notAfter, RandomNumberGenerator.GetBytes(16));
        using var withKey = signed.CopyWithPrivateKey(key);
        return Reload(withKey);
    }

    /// <summary>Writes the certificate (not its key) as PEM: what a client adds to its trust store.</summary>
    public static void WriteCertificatePem(X509Certificate2 certificate, string path)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        File.WriteAllText(path, certificate.ExportCertificatePem() + "\n");
    }

    /// <summary>Writes the private key as unencrypted PKCS#8 PEM, readable by its owner only (to reuse a CA).</summary>
    public static void WritePrivateKeyPem(X509Certificate2 certificate, string path)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no ECDSA private key", nameof(certificate));
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem() + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>A CA written by <see cref="WriteCertificatePem"/> and <see cref="WritePrivateKeyPem"/>.</summary>
    public static X509Certificate2 LoadAuthority(string certificatePemPath, string keyPemPath)
    {
        using var loaded = X509Certificate2.CreateFromPemFile(certificatePemPath, keyPemPath);
        return Reload(loaded);
    }

    /// <summary>Through PKCS#12 and back: a certificate whose key came from CopyWithPrivateKey or PEM is then usable
    /// by SslStream on every platform.</summary>
    private static X509Certificate2 Reload(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);
}
