using System.Collections.Frozen;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace IngestCluster.Node.Hosting.Wire;

/// <summary>Reads one message type's fields (after the version byte) from a <see cref="WireReader"/>.</summary>
public delegate object WireRead(ref WireReader reader);

/// <summary>One message type on the wire: its type, its short manifest (stable for ever: a journal replays it),
/// and how to write and read its fields.</summary>
public sealed record WireType(Type Type, string Manifest, Action<WireWriter, object>? Write, WireRead Read)
{
    public static WireType Of<T>(string manifest, Action<WireWriter, T> write, WireRead read) =>
        new(typeof(T), manifest, (w, o) => write(w, (T)o), read);

    /// <summary>An older shape of <typeparamref name="T"/>, read but never written: its manifest is in journals and
    /// may come from members not yet upgraded, so it stays readable after the type gained fields (and a new manifest).</summary>
    public static WireType Legacy<T>(string manifest, WireRead read) => new(typeof(T), manifest, null, read);

    public bool IsLegacy => Write is null;
}

/// <summary>
/// The base of each stage's serializer: a <see cref="SerializerWithStringManifest"/> over a fixed table of
/// <see cref="WireType"/>s. An unknown manifest (a newer node's message) or malformed bytes throw
/// <see cref="SerializationException"/>, so remoting drops that one message and a rolling upgrade carries on; both
/// are counted in <c>ingest_wire_rejected_total</c>.
/// </summary>
public abstract class WireSerializer : SerializerWithStringManifest
{
    private readonly FrozenDictionary<Type, WireType> _byType;
    private readonly FrozenDictionary<string, WireType> _byManifest;
    private readonly MetricCounter _unknown;
    private readonly MetricCounter _malformed;

    protected WireSerializer(ExtendedActorSystem system, NodeMetrics? metrics, string name, IReadOnlyList<WireType> types)
        : base(system)
    {
        _byType = types.Where(t => !t.IsLegacy).ToFrozenDictionary(t => t.Type);
        _byManifest = types.ToFrozenDictionary(t => t.Manifest, StringComparer.Ordinal);
        metrics ??= new NodeMetrics();
        const string help = "Messages from other members refused by a serializer: an unknown manifest or malformed bytes.";
        _unknown = metrics.Counter("ingest_wire_rejected_total", $"serializer=\"{name}\",reason=\"unknown_manifest\"", help);
        _malformed = metrics.Counter("ingest_wire_rejected_total", $"serializer=\"{name}\",reason=\"malformed\"", help);
    }

    /// <summary>Every type this serializer writes, with its manifest.</summary>
    public IEnumerable<WireType> Types => _byType.Values;

    /// <summary>Every manifest this serializer reads: those it writes and the legacy ones.</summary>
    public IEnumerable<WireType> Readable => _byManifest.Values;

    public override string Manifest(object o) => Find(o).Manifest;

    public override byte[] ToBinary(object obj)
    {
        var writer = new WireWriter();
        Find(obj).Write!(writer, obj);
        return writer.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!_byManifest.TryGetValue(manifest, out var type))
        {
            _unknown.Increment();
            throw new SerializationException($"{GetType().Name}: unknown manifest '{manifest}' (a newer member's message?)");
        }
        try
        {
            var reader = new WireReader(bytes, manifest);
            var message = type.Read(ref reader);
            reader.End();
            return message;
        }
        catch (SerializationException)
        {
            _malformed.Increment();
            throw;
        }
    }

    private WireType Find(object o) => _byType.TryGetValue(o.GetType(), out var type)
        ? type
        : throw new ArgumentException($"{GetType().Name} does not carry {o.GetType()}", nameof(o));
}
