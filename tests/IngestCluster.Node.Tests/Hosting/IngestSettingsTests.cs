using IngestCluster.Node.Hosting;
using Microsoft.Extensions.Configuration;

namespace IngestCluster.Node.Tests.Hosting;

public sealed class IngestSettingsTests
{
    private static IngestSettings Read(Dictionary<string, string?> values, out SettingsReader reader) =>
        IngestSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), out reader);

    [Fact]
    public void Embedded_defaults_need_no_settings_at_all()
    {
        var settings = Read([], out var reader);

        Assert.Empty(reader.Errors);
        Assert.EndsWith("/data", settings.Node.DataDirectory, StringComparison.Ordinal);
        Assert.EndsWith("/data/joinfile.csv", settings.Joinfile.Path, StringComparison.Ordinal);
        Assert.Equal("sqlite", settings.Persistence.Provider);
        Assert.Contains("ingest.db", settings.Persistence.ConnectionString, StringComparison.Ordinal);
        Assert.Equal("http://127.0.0.1:9110", settings.Admin.Url);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Budget.ReconcileInterval);
        Assert.Empty(settings.Pim);
        Assert.Null(settings.Egress.Interface);
    }

    [Fact]
    public void Budget_keys_read_bitrates_with_units_and_refuse_bad_ones_by_key()
    {
        var settings = Read(new()
        {
            ["Budget:Limit"] = "2Gbps",
            ["Budget:DefaultBitrate"] = "4.5Mbps",
            ["Budget:BlockedHoldDown"] = "20s",
            ["Budget:MetadataWait"] = "0s",
        }, out var reader);
        Assert.Empty(reader.Errors);
        Assert.Equal(2_000_000_000, settings.Budget.Limit!.Value.BitsPerSecond);
        Assert.Equal(4_500_000, settings.Budget.DefaultBitrate!.Value.BitsPerSecond);
        Assert.Equal((TimeSpan.FromSeconds(20), TimeSpan.Zero), (settings.Budget.BlockedHoldDown, settings.Budget.MetadataWait));

        var defaults = Read([], out _).Budget;
        Assert.Equal((null, null), (defaults.Limit, defaults.DefaultBitrate));
        Assert.Equal(TimeSpan.FromSeconds(150), defaults.BlockedHoldDown);

        Read(new()
        {
            ["Budget:Limit"] = "2000000",
            ["Budget:DefaultBitrate"] = "fast",
            ["Budget:Metadata:CaBundle"] = "/nonexistent/ca.pem",
            ["Budget:Metadata:MinTtl"] = "2h",
        }, out var bad);
        Assert.Equal(["Budget:DefaultBitrate", "Budget:Limit", "Budget:Metadata:CaBundle", "Budget:Metadata:MinTtl"],
            bad.Errors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Contains("unit", bad.Errors.Single(e => e.Key == "Budget:Limit").Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void Egress_socket_is_auto_packet_or_raw()
    {
        Assert.Null(Read([], out _).Egress.Socket);
        Assert.Equal(IngestCluster.Node.Egress.EgressSocket.Packet, Read(new() { ["Egress:Socket"] = "packet" }, out _).Egress.Socket);
        Assert.Equal(IngestCluster.Node.Egress.EgressSocket.Raw, Read(new() { ["Egress:Socket"] = "RAW" }, out _).Egress.Socket);
        Read(new() { ["Egress:Socket"] = "af_xdp" }, out var bad);
        var error = Assert.Single(bad.Errors);
        Assert.Equal(("Egress:Socket", "af_xdp", "auto, packet or raw"), (error.Key, error.Value, error.Expected));
    }

    [Fact]
    public void Tunnel_data_plane_keys_choose_the_upstream_and_size_the_buffers_with_units()
    {
        var settings = Read(new()
        {
            ["Tunnels:Interface"] = "eth2",
            ["Tunnels:SourceAddress"] = "192.0.2.10",
            ["Tunnels:ReceiveThreads"] = "3",
            ["Tunnels:ReceiveBufferFloor"] = "256KiB",
            ["Tunnels:ReceiveBufferCeiling"] = "8MiB",
            ["Tunnels:ReceiveBufferTime"] = "50ms",
            ["Tunnels:UdpGro"] = "true",
            ["Egress:Batch"] = "32",
        }, out var reader);
        Assert.Empty(reader.Errors);
        var t = settings.TunnelSockets;
        Assert.Equal(("eth2", "192.0.2.10", 3, 32, true), (t.Interface, t.SourceAddress!.ToString(), t.ReceiveThreads, t.Batch, t.UdpGro));
        Assert.Equal((256 << 10, 8 << 20, TimeSpan.FromMilliseconds(50)), (t.ReceiveBufferFloor, t.ReceiveBufferCeiling, t.ReceiveBufferTime));

        var defaults = Read([], out _).TunnelSockets;
        Assert.Equal((null, null, Environment.ProcessorCount, false, 4 << 20), (defaults.Interface, defaults.SourceAddress, defaults.ReceiveThreads, defaults.UdpGro, defaults.ReceiveBufferCeiling));

        Read(new()
        {
            ["Tunnels:Interface"] = "a-name-longer-than-15",
            ["Tunnels:SourceAddress"] = "not-an-address",
            ["Tunnels:ReceiveThreads"] = "0",
            ["Tunnels:ReceiveBufferCeiling"] = "4194304",
        }, out var bad);
        Assert.Equal(["Tunnels:Interface", "Tunnels:ReceiveBufferCeiling", "Tunnels:ReceiveThreads", "Tunnels:SourceAddress"],
            bad.Errors.Select(e => e.Key).Distinct().Order(StringComparer.Ordinal));
        Assert.Contains("unit", bad.Errors.First(e => e.Key == "Tunnels:ReceiveBufferCeiling").Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_value_is_reported_with_its_key_and_what_it_expects()
    {
        Read(new()
        {
            ["Tunnels:NoDataTimeout"] = "10",
            ["Cluster:Port"] = "70000",
            ["Persistence:Provider"] = "oracle",
            ["Dns:Servers:0"] = "not-an-address",
            ["Relays:Overrides:0:Prefix"] = "10.0.0.0/33",
            ["Relays:Overrides:0:Relay"] = "10.9.9.9",
            ["Demand:Pim:Interfaces:0:DrPriority"] = "2",
            ["Admin:Url"] = "http://0.0.0.0:9110",
        }, out var reader);

        var keys = reader.Errors.Select(e => e.Key).ToHashSet();
        Assert.Equal(
            new HashSet<string>
            {
                "Tunnels:NoDataTimeout", "Cluster:Port", "Persistence:Provider", "Persistence:ConnectionString", "Dns:Servers",
                "Relays:Overrides:0:Prefix", "Demand:Pim:Interfaces:0:Name", "Admin:Token",
            },
            keys);
        Assert.Contains(reader.Errors, e => e.Key == "Tunnels:NoDataTimeout" && e.Expected.Contains("unit", StringComparison.Ordinal));
        var thrown = Assert.Throws<SettingsException>(reader.ThrowIfInvalid);
        Assert.Contains("Cluster:Port = \"70000\": expected a whole number from 0 to 65535", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cluster_settings_default_to_a_unique_name_and_a_standalone_node_that_hosts_sources()
    {
        var standalone = Read([], out var reader);
        Assert.Empty(reader.Errors);
        Assert.Equal("127.0.0.1:4053", standalone.Node.Name);
        Assert.Equal("akka.tcp://ingest@127.0.0.1:4053", standalone.Cluster.SelfAddress);
        Assert.Equal("127.0.0.1", standalone.Cluster.BindHostname);
        Assert.True(standalone.Egress.HostsSources);
        Assert.True(File.Exists(standalone.Cluster.ConfigFile), standalone.Cluster.ConfigFile);

        var member = Read(new()
        {
            ["Cluster:Hostname"] = "10.0.0.2",
            ["Cluster:Port"] = "4100",
            ["Cluster:BindHostname"] = "0.0.0.0",
            ["Cluster:SeedNodes:0"] = "akka.tcp://ingest@10.0.0.1:4053",
        }, out reader);
        Assert.Empty(reader.Errors);
        Assert.Equal("10.0.0.2:4100", member.Node.Name);
        Assert.Equal("0.0.0.0", member.Cluster.BindHostname);
        Assert.Equal(4100, member.Cluster.BindPort);
        // A cluster member without an egress interface carries no tunnels unless told to.
        Assert.False(member.Egress.HostsSources);
    }

    [Fact]
    public void Bad_cluster_settings_are_reported_with_their_keys()
    {
        Read(new()
        {
            ["Cluster:SeedNodes:0"] = "10.0.0.1:4053",
            ["Cluster:ConfigFile"] = "/nonexistent/cluster.conf",
            ["Demand:Pim:Interfaces:0:Name"] = "eth1",
            ["Demand:Pim:Interfaces:0:ClusterAddress"] = "not-an-address",
            ["Sources:HandOffLinger"] = "6",
        }, out var reader);

        var keys = reader.Errors.Select(e => e.Key).ToHashSet();
        Assert.Contains("Cluster:SeedNodes", keys);
        Assert.Contains("Cluster:ConfigFile", keys);
        Assert.Contains("Demand:Pim:Interfaces:0:ClusterAddress", keys);
        Assert.Contains("Sources:HandOffLinger", keys);
        Assert.Contains(reader.Errors, e => e.Key == "Cluster:SeedNodes" && e.Expected.Contains("akka.tcp://", StringComparison.Ordinal));
    }

    [Fact]
    public void A_pim_interface_turns_off_the_default_joinfile_and_takes_its_settings()
    {
        var settings = Read(new()
        {
            ["Demand:Pim:Interfaces:0:Name"] = "eth1",
            ["Demand:Pim:Interfaces:0:HelloPeriod"] = "10s",
            ["Demand:Pim:Interfaces:0:AcceptUpstream:0"] = "10.0.0.2",
            ["Demand:Pim:SsmRanges:0"] = "232.1.0.0/16",
        }, out var reader);

        Assert.Empty(reader.Errors);
        Assert.Null(settings.Joinfile.Path);
        var pim = Assert.Single(settings.Pim);
        Assert.Equal("eth1", pim.Name);
        Assert.Equal(TimeSpan.FromSeconds(35), pim.HelloHoldtime);
        Assert.Equal("10.0.0.2", Assert.Single(pim.AcceptUpstream).ToString());
        Assert.Equal("232.1.0.0/16", Assert.Single(pim.SsmRanges).ToString());
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("30s", 30_000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("00:00:05", 5_000)]
    public void Durations_carry_their_unit(string text, double milliseconds)
    {
        Assert.True(SettingsReader.TryParseDuration(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("-1s")]
    [InlineData("soon")]
    public void A_duration_without_a_unit_or_negative_is_refused(string text) =>
        Assert.False(SettingsReader.TryParseDuration(text, out _));
}
