using System.Diagnostics;

namespace IngestCluster.Node.Tests.Egress;

/// <summary>
/// Two network namespaces joined by a veth pair, made with <c>ip</c> and removed in <see cref="Dispose"/>.
/// The veth is created directly inside the namespaces, never in the root namespace.
/// </summary>
internal sealed class VethPair : IDisposable
{
    public VethPair(string prefix, string addressA, string addressB)
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        NamespaceA = $"{prefix}a{tag}";
        NamespaceB = $"{prefix}b{tag}";
        InterfaceA = $"{prefix}va{tag}";
        InterfaceB = $"{prefix}vb{tag}";
        AddressA = addressA;
        AddressB = addressB;
        try
        {
            Ip($"netns add {NamespaceA}");
            Ip($"netns add {NamespaceB}");
            Ip($"link add {InterfaceA} netns {NamespaceA} type veth peer name {InterfaceB} netns {NamespaceB}");
            Ip($"-n {NamespaceA} addr add {addressA}/24 dev {InterfaceA}");
            Ip($"-n {NamespaceB} addr add {addressB}/24 dev {InterfaceB}");
            foreach (var (ns, nic) in new[] { (NamespaceA, InterfaceA), (NamespaceB, InterfaceB) })
            {
                Ip($"-n {ns} link set lo up");
                Ip($"-n {ns} link set {nic} up");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A further veth between the same two namespaces (a second upstream, say); removed with them.
    /// <paramref name="name"/> is one character, to tell the interfaces apart.</summary>
    public (string InterfaceA, string InterfaceB) AddLink(char name, string addressA, string addressB)
    {
        string tag = NamespaceA[^6..];
        string a = $"{InterfaceA[..^(tag.Length + 2)]}{name}a{tag}", b = $"{InterfaceA[..^(tag.Length + 2)]}{name}b{tag}";
        Ip($"link add {a} netns {NamespaceA} type veth peer name {b} netns {NamespaceB}");
        Ip($"-n {NamespaceA} addr add {addressA}/24 dev {a}");
        Ip($"-n {NamespaceB} addr add {addressB}/24 dev {b}");
        Ip($"-n {NamespaceA} link set {a} up");
        Ip($"-n {NamespaceB} link set {b} up");
        return (a, b);
    }

    public string NamespaceA { get; }
    public string NamespaceB { get; }
    public string InterfaceA { get; }
    public string InterfaceB { get; }
    public string AddressA { get; }
    public string AddressB { get; }

    public void Dispose()
    {
        // Deleting a namespace deletes the veth inside it.
        TryIp($"netns delete {NamespaceA}");
        TryIp($"netns delete {NamespaceB}");
    }

    private static void Ip(string arguments)
    {
        var (code, error) = RunIp(arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {arguments} failed ({code}): {error}");
        }
    }

    private static void TryIp(string arguments) => RunIp(arguments);

    private static (int Code, string Error) RunIp(string arguments)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var part in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            start.ArgumentList.Add(part);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}
