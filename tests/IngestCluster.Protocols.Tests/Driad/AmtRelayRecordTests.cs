using System.Net;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.Protocols.Tests.Driad;

public class AmtRelayRecordTests
{
    private static AmtRelayRecord Read(byte[] rdata)
    {
        Assert.True(AmtRelayRecord.TryRead(rdata, out var record, out var error), error.ToString());
        Assert.False(error.IsError);
        return record;
    }

    [Fact]
    public void Generic_zone_records_of_all_four_types_decode_to_their_fields()
    {
        var rdata = DnsVectors.GenericRdata("amtrelay-generic.zone");
        Assert.Equal(4, rdata.Count);
        Assert.All(rdata, r => Assert.Equal(r.DeclaredLength, r.Rdata.Length));

        var v4 = Read(rdata[0].Rdata);
        Assert.Equal((10, false, AmtRelayType.IPv4), (v4.Precedence, v4.DiscoveryOptional, v4.Type));
        Assert.Equal(IPAddress.Parse("203.0.113.15"), v4.Address);

        var v6 = Read(rdata[1].Rdata);
        Assert.Equal((10, false, AmtRelayType.IPv6), (v6.Precedence, v6.DiscoveryOptional, v6.Type));
        Assert.Equal(IPAddress.Parse("2001:db8::15"), v6.Address);

        var name = Read(rdata[2].Rdata);
        Assert.Equal((128, true, AmtRelayType.DomainName), (name.Precedence, name.DiscoveryOptional, name.Type));
        Assert.Equal("amtrelays.example.com.", name.RelayName);
        Assert.True(name.NameHadRootLabel);
        Assert.Null(name.Address);

        var none = Read(rdata[3].Rdata);
        Assert.Equal((255, false, AmtRelayType.None), (none.Precedence, none.DiscoveryOptional, none.Type));
        Assert.Null(none.Address);
        Assert.Null(none.RelayName);
    }

    [Fact]
    public void Generic_and_native_zones_hold_the_same_records_and_print_as_bind9_writes_them()
    {
        var generic = DnsVectors.GenericRdata("amtrelay-generic.zone");
        var native = DnsVectors.NativeRecords("amtrelay-native.zone");
        Assert.Equal(generic.Count, native.Count);
        for (int i = 0; i < native.Count; i++)
        {
            var fromWire = Read(generic[i].Rdata);
            Assert.True(AmtRelayRecord.TryParse(native[i], out var fromText, out var error), error);
            Assert.Equal(fromText, fromWire);
            string normalised = string.Join(' ', native[i].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(normalised, fromWire.ToString());
            Assert.Equal(generic[i].Rdata, fromText.ToArray());
        }
    }

    [Fact]
    public void Akamai_type_3_name_without_its_final_zero_byte_is_accepted()
    {
        var rdata = DnsVectors.GenericRdata("real-world-amtrelay.txt");
        var akamai = rdata.Where(r => r.DeclaredLength == 22).ToList();
        Assert.Equal(2, akamai.Count);

        var v4 = Read(akamai[0].Rdata);
        Assert.Equal((16, false, AmtRelayType.DomainName), (v4.Precedence, v4.DiscoveryOptional, v4.Type));
        Assert.Equal("r5v4.amt.akadns.net.", v4.RelayName);
        Assert.False(v4.NameHadRootLabel);
        Assert.Equal("16 0 3 r5v4.amt.akadns.net.", v4.ToString());

        var v6 = Read(akamai[1].Rdata);
        Assert.Equal("r3v6.amt.akadns.net.", v6.RelayName);
    }

    [Fact]
    public void Akamai_record_is_written_back_with_the_root_label_it_lacked()
    {
        var akamai = DnsVectors.GenericRdata("real-world-amtrelay.txt").First(r => r.DeclaredLength == 22).Rdata;
        var record = Read(akamai);
        Assert.Equal(23, record.Length);
        var written = record.ToArray();
        Assert.Equal([.. akamai, 0], written);
        Assert.Equal(record, Read(written));
    }

    [Fact]
    public void Internet2_25_byte_name_record_and_mixed_precedences_decode()
    {
        var rdata = DnsVectors.GenericRdata("real-world-amtrelay.txt").Where(r => r.DeclaredLength != 22).ToList();
        var records = rdata.Select(r => Read(r.Rdata)).ToList();
        Assert.Equal(5, records.Count);
        Assert.Equal("16 0 3 amt-relay.m2icast.net.", records[0].ToString());
        Assert.Equal(25, rdata[0].Rdata.Length);
        Assert.True(records[0].NameHadRootLabel);
        Assert.Equal(
            ["15 0 1 69.77.14.145", "32 0 1 162.250.137.254", "32 0 1 198.38.23.145", "32 0 1 162.250.136.101"],
            records.Skip(1).Select(r => r.ToString()));
        foreach (var (_, bytes, _) in rdata)
        {
            Assert.Equal(bytes, Read(bytes).ToArray());
        }
    }

    [Fact]
    public void Unknown_relay_type_gives_an_unsupported_error()
    {
        Assert.False(AmtRelayRecord.TryRead([10, 0x84, 1, 2, 3, 4], out _, out var error));
        Assert.Equal(ParseFailure.Unsupported, error.Kind);
        Assert.Equal(1, error.Offset);
        Assert.Contains("relay type 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compression_pointer_in_a_relay_name_is_rejected()
    {
        Assert.False(AmtRelayRecord.TryRead([10, 3, 3, (byte)'a', (byte)'m', (byte)'t', 0xC0, 0x0C], out _, out var error));
        Assert.Equal(ParseFailure.BadValue, error.Kind);
        Assert.Equal(6, error.Offset);
        Assert.Contains("compression pointer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_longer_than_63_bytes_is_rejected()
    {
        var rdata = new byte[2 + 1 + 64 + 1];
        rdata[1] = 3;
        rdata[2] = 64;
        rdata.AsSpan(3, 64).Fill((byte)'a');
        Assert.False(AmtRelayRecord.TryRead(rdata, out _, out var error));
        Assert.Equal(ParseFailure.BadValue, error.Kind);
        Assert.Equal(2, error.Offset);
    }

    [Fact]
    public void Name_longer_than_255_bytes_is_rejected()
    {
        // Five labels of 63 bytes: 320 bytes on the wire.
        var rdata = new List<byte> { 1, 3 };
        for (int i = 0; i < 5; i++)
        {
            rdata.Add(63);
            rdata.AddRange(Enumerable.Repeat((byte)'b', 63));
        }
        rdata.Add(0);
        Assert.False(AmtRelayRecord.TryRead([.. rdata], out _, out var error));
        Assert.Equal(ParseFailure.BadValue, error.Kind);
        Assert.Contains("255", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_that_claims_more_bytes_than_remain_is_truncated()
    {
        Assert.False(AmtRelayRecord.TryRead([1, 3, 9, (byte)'a', (byte)'b'], out _, out var error));
        Assert.Equal(ParseFailure.Truncated, error.Kind);
        Assert.Equal(2, error.Offset);
        Assert.Equal("label of 9 bytes needs 9 bytes but 2 remain", error.Message);
    }

    [Fact]
    public void Bytes_after_a_names_zero_byte_are_a_length_mismatch()
    {
        Assert.False(AmtRelayRecord.TryRead([1, 3, 1, (byte)'a', 0, 7], out _, out var error));
        Assert.Equal(ParseFailure.LengthMismatch, error.Kind);
        Assert.Equal(5, error.Offset);
    }

    [Theory]
    [InlineData(new byte[] { 10 }, ParseFailure.Truncated)]
    [InlineData(new byte[] { 10, 1, 203, 0, 113 }, ParseFailure.Truncated)]
    [InlineData(new byte[] { 10, 1, 203, 0, 113, 15, 9 }, ParseFailure.LengthMismatch)]
    [InlineData(new byte[] { 10, 2, 0x20, 0x01 }, ParseFailure.Truncated)]
    [InlineData(new byte[] { 10, 0, 1 }, ParseFailure.LengthMismatch)]
    [InlineData(new byte[] { 10, 3 }, ParseFailure.Truncated)]
    [InlineData(new byte[] { 10, 3, 0 }, ParseFailure.BadValue)]
    public void Malformed_rdata_gives_a_typed_error(byte[] rdata, ParseFailure expected)
    {
        Assert.False(AmtRelayRecord.TryRead(rdata, out _, out var error));
        Assert.Equal(expected, error.Kind);
        Assert.NotEmpty(error.Message);
    }

    [Fact]
    public void D_bit_is_read_and_written_independently_of_the_type()
    {
        var record = AmtRelayRecord.ForAddress(7, true, IPAddress.Parse("10.0.9.1"));
        var buffer = new byte[10];
        buffer.AsSpan().Fill(0xff);
        Assert.Equal(6, record.Write(buffer));
        Assert.Equal(new byte[] { 7, 0x81, 10, 0, 9, 1, 0xff, 0xff, 0xff, 0xff }, buffer);
        Assert.True(Read(buffer[..6]).DiscoveryOptional);
    }

    [Fact]
    public void Writer_fills_exactly_its_length_in_a_prefilled_buffer()
    {
        var record = AmtRelayRecord.ForName(128, true, "amtrelays.example.com.");
        var buffer = new byte[40];
        buffer.AsSpan().Fill(0xff);
        int written = record.Write(buffer);
        Assert.Equal(25, written);
        Assert.Equal(Convert.FromHexString("808309616d7472656c617973076578616d706c6503636f6d00"), buffer[..25]);
        Assert.All(buffer[25..], b => Assert.Equal(0xff, b));
    }

    [Fact]
    public void Writer_rejects_a_short_destination()
    {
        var record = AmtRelayRecord.ForAddress(1, false, IPAddress.Parse("2001:db8::1"));
        Assert.Throws<ArgumentException>(() => record.Write(new byte[17]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData("bad name")]
    public void Building_a_record_with_an_unencodable_name_throws(string name) =>
        Assert.Throws<ArgumentException>(() => AmtRelayRecord.ForName(1, false, name));

    [Fact]
    public void Building_a_record_with_a_64_byte_label_throws() =>
        Assert.Throws<ArgumentException>(() => AmtRelayRecord.ForName(1, false, new string('x', 64) + ".example."));

    [Theory]
    [InlineData("10 0 1 203.0.113.15", "0a01cb00710f")]
    [InlineData("10 0 2 2001:db8::15", "0a0220010db8000000000000000000000015")]
    [InlineData("128 1 3 amtrelays.example.com.", "808309616d7472656c617973076578616d706c6503636f6d00")]
    [InlineData("255 0 0 .", "ff00")]
    public void Presentation_form_round_trips_through_the_wire(string text, string hex)
    {
        Assert.True(AmtRelayRecord.TryParse(text, out var record, out var error), error);
        Assert.Equal(hex, Convert.ToHexStringLower(record.ToArray()));
        Assert.Equal(text, Read(Convert.FromHexString(hex)).ToString());
    }

    [Fact]
    public void Presentation_name_without_final_dot_is_made_absolute()
    {
        Assert.True(AmtRelayRecord.TryParse("5 0 3 relay.example.net", out var record, out var error), error);
        Assert.Equal("5 0 3 relay.example.net.", record.ToString());
    }

    [Theory]
    [InlineData("10 0 1", "4 fields")]
    [InlineData("256 0 1 203.0.113.15", "precedence")]
    [InlineData("10 2 1 203.0.113.15", "D bit")]
    [InlineData("10 0 4 203.0.113.15", "relay type")]
    [InlineData("10 0 1 2001:db8::1", "not an IPv4")]
    [InlineData("10 0 1 10.1", "not an IPv4")]
    [InlineData("10 0 2 203.0.113.15", "not an IPv6")]
    [InlineData("10 0 0 relay.example.", "'.'")]
    [InlineData("10 0 3 .", "root")]
    [InlineData("10 0 3 a..b.", "empty label")]
    [InlineData(null, "missing")]
    public void Bad_presentation_text_says_what_is_wrong(string? text, string expected)
    {
        Assert.False(AmtRelayRecord.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Escaped_characters_in_a_name_survive_the_round_trip()
    {
        Assert.True(AmtRelayRecord.TryParse(@"1 0 3 we\.ird\032x.example.", out var record, out var error), error);
        var wire = record.ToArray();
        Assert.Equal(8, wire[2]); // w e . i r d space x
        var back = Read(wire);
        Assert.Equal(@"we\.ird\032x.example.", back.RelayName);
    }

    [Theory]
    [InlineData("198.51.100.12", "12.100.51.198.in-addr.arpa.")]
    [InlineData("23.212.185.5", "5.185.212.23.in-addr.arpa.")]
    [InlineData("2001:db8::567:89ab", "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")]
    [InlineData("::ffff:198.51.100.12", "12.100.51.198.in-addr.arpa.")]
    public void Reverse_names_follow_in_addr_and_ip6_arpa(string address, string expected) =>
        Assert.Equal(expected, ReverseName.For(IPAddress.Parse(address)));
}
