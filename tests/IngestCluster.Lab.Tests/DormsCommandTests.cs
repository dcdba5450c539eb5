using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace IngestCluster.Lab.Tests;

/// <summary>The <c>dorms</c> command's options and flow files, and the lab certificates (no network).</summary>
public sealed class DormsCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ic-dorms-cmd-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Flows_from_the_command_line_take_a_shape_and_a_misbehaviour()
    {
        var settings = DormsCommand.Parse(["--listen", "127.0.0.1:8443", "--name", "dorms.example.net.",
            "--flows", "198.51.100.12,232.1.1.1,2000; 198.51.100.12,232.1.1.2,3000,older,slow;2001:db8::4,ff3e::1,5,500"]);

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8443), settings.Listen);
        Assert.Equal(["dorms.example.net"], settings.Names);
        Assert.Equal(
            [
                new DormsFlow(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"), 2000),
                new DormsFlow(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"), 3000, Shape: DormsShape.Older, Misbehaviour: DormsMisbehaviour.Slow),
                new DormsFlow(IPAddress.Parse("2001:db8::4"), IPAddress.Parse("ff3e::1"), 5, Misbehaviour: DormsMisbehaviour.Status500),
            ],
            settings.Flows);
        Assert.Equal("/restconf", settings.RestconfRoot);
        Assert.Equal(HostMetaForms.Both, settings.HostMeta);
    }

    [Fact]
    public void The_older_shape_option_is_the_default_for_every_flow()
    {
        var settings = DormsCommand.Parse(["--listen", "127.0.0.1:8443", "--older-shape", "--flows", "198.51.100.12,232.1.1.1,2000"]);
        Assert.Equal(DormsShape.Older, Assert.Single(settings.Flows).Shape);
    }

    [Fact]
    public void Flows_are_read_from_a_file_with_their_optional_leaves()
    {
        string path = Path.Combine(_directory, "flows.json");
        File.WriteAllText(path, """
            {"flows":[
              {"source":"198.51.100.12","group":"232.1.1.1","maxSpeed":2000,"maxPacketSize":1316,"dataRateWindow":1000,"priority":300},
              {"source":"198.51.100.12","group":"232.1.1.2","maxSpeed":1,"shape":"older","misbehave":"endless"}
            ]}
            """);
        var settings = DormsCommand.Parse(["--listen", "127.0.0.1:8443", "--metadata", path, "--host-meta", "xrd", "--max-age", "2m"]);

        Assert.Equal(
            [
                new DormsFlow(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"), 2000, 1316, 1000, 300),
                new DormsFlow(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"), 1, Shape: DormsShape.Older, Misbehaviour: DormsMisbehaviour.Endless),
            ],
            settings.Flows);
        Assert.Equal(HostMetaForms.XrdOnly, settings.HostMeta);
        Assert.Equal(TimeSpan.FromMinutes(2), settings.MaxAge);
    }

    [Theory]
    [InlineData("--listen 127.0.0.1 --flows 198.51.100.12,232.1.1.1,1", "--listen expects ADDR:PORT")]
    [InlineData("--listen 127.0.0.1:8443", "one of --flows or --metadata is required")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1", "is not S,G,KBPS")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1,fast", "is not a rate in kbit/s")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1,1,teapot", "'teapot' is not older, garbage")]
    [InlineData("--listen 127.0.0.1:8443 --flows nobody,232.1.1.1,1", "source 'nobody' is not an IP address")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1,1 --host-meta yaml", "--host-meta expects both, json or xrd")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1,1 --ca-cert ca.pem", "--ca-cert and --ca-key go together")]
    [InlineData("--listen 127.0.0.1:8443 --flows 198.51.100.12,232.1.1.1,1 --restconf-root restconf", "starting with '/'")]
    public void Bad_options_are_usage_errors_that_say_what_is_wrong(string line, string expected)
    {
        var e = Assert.Throws<UsageException>(() => DormsCommand.Parse(line.Split(' ')));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flow_file_without_max_speed_is_a_usage_error_naming_the_flow()
    {
        string path = Path.Combine(_directory, "flows.json");
        File.WriteAllText(path, """{"flows":[{"source":"198.51.100.12","group":"232.1.1.1"}]}""");
        var e = Assert.Throws<UsageException>(() => DormsCommand.Parse(["--listen", "127.0.0.1:8443", "--metadata", path]));
        Assert.Contains("flows[0] has no \"maxSpeed\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_server_certificate_validates_against_its_CA_only_for_its_names()
    {
        using var authority = LabCertificates.CreateAuthority("test CA");
        using var other = LabCertificates.CreateAuthority("other CA");
        using var server = LabCertificates.IssueServer(authority, ["dorms.example.net"], [IPAddress.Loopback]);
        Assert.True(server.HasPrivateKey);
        Assert.True(server.MatchesHostname("dorms.example.net"));
        Assert.True(server.MatchesHostname("127.0.0.1"));
        Assert.False(server.MatchesHostname("other.example.net"));

        Assert.True(Builds(server, authority), "the issuing CA does not validate its certificate");
        Assert.False(Builds(server, other), "another CA validates the certificate");
    }

    [Fact]
    public void A_CA_written_as_PEM_is_loaded_back_and_can_still_sign()
    {
        using var authority = LabCertificates.CreateAuthority("test CA");
        string cert = Path.Combine(_directory, "ca.pem");
        string key = Path.Combine(_directory, "ca-key.pem");
        LabCertificates.WriteCertificatePem(authority, cert);
        LabCertificates.WritePrivateKeyPem(authority, key);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(cert), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }

        using var loaded = LabCertificates.LoadAuthority(cert, key);
        Assert.Equal(authority.Thumbprint, loaded.Thumbprint);
        using var server = LabCertificates.IssueServer(loaded, ["dorms.example.net"], []);
        using var trusted = X509CertificateLoader.LoadCertificateFromFile(cert);
        Assert.True(Builds(server, trusted));
    }

    private static bool Builds(X509Certificate2 leaf, X509Certificate2 root)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}
