using System.Text;
using IngestCluster.Node.Budget.Metadata;

namespace IngestCluster.Node.Tests.Budget.Metadata;

public sealed class HostMetaTests
{
    [Fact]
    public void The_restconf_link_is_read_from_JRD_json_among_other_links()
    {
        var json = """{"subject":"x","links":[{"rel":"lrdd","href":"/lrdd"},{"rel":"restconf","href":"/top/restconf"}]}""";
        Assert.True(HostMeta.TryReadJson(Encoding.UTF8.GetBytes(json), out var href));
        Assert.Equal("/top/restconf", href);
    }

    [Fact]
    public void The_restconf_link_is_read_from_the_RFC_8040_XRD()
    {
        var xrd = """
            <?xml version="1.0" encoding="UTF-8"?>
            <XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
              <!-- RFC 8040 section 3.1 -->
              <Link rel="author" href="mailto:ops@example.net"/>
              <Link rel="restconf" href="/restconf"/>
            </XRD>
            """;
        Assert.True(HostMeta.TryReadXrd(Encoding.UTF8.GetBytes(xrd), out var href));
        Assert.Equal("/restconf", href);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"links":{}}""")]
    [InlineData("""{"links":[{"rel":"lrdd","href":"/x"}]}""")]
    [InlineData("""{"links":[{"rel":"restconf","href":""}]}""")]
    [InlineData("""{"links":[{"rel":"restconf","href":42}]}""")]
    public void Json_without_a_usable_restconf_link_is_refused(string json)
    {
        Assert.False(HostMeta.TryReadJson(Encoding.UTF8.GetBytes(json), out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("<XRD><Link rel='restconf'")]
    [InlineData("<XRD><Link rel='other' href='/x'/></XRD>")]
    [InlineData("<!DOCTYPE x [<!ENTITY e 'boom'>]><XRD><Link rel='restconf' href='&e;'/></XRD>")]
    public void Xml_without_a_usable_restconf_link_or_with_a_DTD_is_refused(string xml)
    {
        Assert.False(HostMeta.TryReadXrd(Encoding.UTF8.GetBytes(xml), out _));
    }
}
