using System.Buffers.Binary;
using IngestCluster.Admin.Contracts;
using IngestCluster.Node.Admin;
using Microsoft.Extensions.Configuration;

namespace IngestCluster.Node.Tests.Admin;

/// <summary>The capture endpoint's pure parts: request checks, the size setting, and the pcap bytes it writes.</summary>
public sealed class CaptureEndpointsTests
{
    private static readonly string[] Interfaces = ["eth0", "lo"];

    [Fact]
    public void A_good_request_passes()
    {
        foreach (var filter in new[] { "pim", "amt", "data" })
        {
            Assert.Null(CaptureEndpoints.Validate(new CaptureRequest("lo", 60, filter), Interfaces));
        }
        Assert.Null(CaptureEndpoints.Validate(new CaptureRequest("eth0", 1, "pim"), Interfaces));
    }

    [Theory]
    [InlineData("lo", 0, "pim", 400, "seconds 0")]
    [InlineData("lo", 61, "pim", 400, "seconds 61")]
    [InlineData("lo", 5, "PIM", 400, "filter 'PIM'")]
    [InlineData("lo", 5, "tcp port 22", 400, "filter 'tcp port 22'")]
    [InlineData("eth9", 5, "pim", 404, "no interface 'eth9' on this node to capture on; it has: eth0, lo")]
    [InlineData(" ", 5, "pim", 400, "expected {")]
    public void A_bad_request_is_refused_with_its_status_and_reason(string networkInterface, int seconds, string filter, int status, string reason)
    {
        var refusal = CaptureEndpoints.Validate(new CaptureRequest(networkInterface, seconds, filter), Interfaces);
        Assert.NotNull(refusal);
        Assert.Equal(status, refusal.Value.Status);
        Assert.Contains(reason, refusal.Value.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void No_body_is_a_400() => Assert.Equal(400, CaptureEndpoints.Validate(null, Interfaces)!.Value.Status);

    [Fact]
    public void The_filters_are_the_documented_bpf_expressions()
    {
        Assert.Equal("ip proto 103", CaptureEndpoints.Filters["pim"]);
        Assert.Equal("udp port 2268", CaptureEndpoints.Filters["amt"]);
        Assert.Equal("ip multicast and udp and not udp port 2268", CaptureEndpoints.Filters["data"]);
    }

    [Theory]
    [InlineData(null, CaptureEndpoints.DefaultMaxBytes)]
    [InlineData("1024", 1024L)]
    [InlineData("1073741824", 1073741824L)]
    public void Max_bytes_reads_the_setting_or_defaults_to_16_MiB(string? value, long expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [CaptureEndpoints.MaxBytesKey] = value }).Build();
        Assert.Equal(expected, CaptureEndpoints.ReadMaxBytes(configuration));
    }

    [Theory]
    [InlineData("1023")]
    [InlineData("1073741825")]
    [InlineData("16MiB")]
    [InlineData("-5")]
    public void A_bad_max_bytes_names_the_key(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [CaptureEndpoints.MaxBytesKey] = value }).Build();
        var e = Assert.Throws<InvalidOperationException>(() => CaptureEndpoints.ReadMaxBytes(configuration));
        Assert.StartsWith("Admin:Capture:MaxBytes: '" + value + "'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pcap_header_and_record_are_the_classic_format()
    {
        using var stream = new MemoryStream();
        PcapFile.WriteHeader(stream, linkType: 1, snaplen: 65535);
        PcapFile.WriteRecord(stream, seconds: 1_764_694_800, microseconds: 123_456, data: [0xde, 0xad, 0xbe], originalLength: 3);
        byte[] bytes = stream.ToArray();

        Assert.Equal(PcapFile.HeaderLength + PcapFile.RecordHeaderLength + 3, bytes.Length);
        Assert.Equal(new byte[] { 0xd4, 0xc3, 0xb2, 0xa1 }, bytes[..4]);
        Assert.Equal((ushort)2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal((ushort)4, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(65535u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)));
        Assert.Equal(1_764_694_800u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(24)));
        Assert.Equal(123_456u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(28)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(32)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(36)));
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe }, bytes[40..]);
    }
}
