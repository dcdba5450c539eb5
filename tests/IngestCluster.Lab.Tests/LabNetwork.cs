using IngestCluster.Lab.Topology;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// Network namespaces (named iclab-…) and veth pairs created inside them (never in the root namespace), all
/// removed in <see cref="Dispose"/>. Names carry a random tag so parallel tests do not clash.
/// </summary>
internal sealed class LabNetwork : IDisposable
{
    private readonly List<string> _namespaces = [];

    public string Tag { get; } = Guid.NewGuid().ToString("N")[..5];

    /// <summary>Adds a namespace with lo up and reverse-path filtering off; returns its full name.</summary>
    public string AddNamespace(string role)
    {
        var name = $"iclab-{role}-{Tag}";
        Run("ip", $"netns add {name}");
        _namespaces.Add(name);
        Run("ip", $"-n {name} link set lo up");
        Run("ip", $"netns exec {name} sysctl -qw net.ipv4.conf.all.rp_filter=0");
        Run("ip", $"netns exec {name} sysctl -qw net.ipv4.conf.default.rp_filter=0");
        return name;
    }

    /// <summary>A veth between two namespaces, addressed /24 on both ends; returns the interface names.</summary>
    public (string InterfaceA, string InterfaceB) Link(string namespaceA, string addressA, string namespaceB, string addressB, string label)
    {
        var a = $"icl{label}a{Tag}";
        var b = $"icl{label}b{Tag}";
        Run("ip", $"link add {a} netns {namespaceA} type veth peer name {b} netns {namespaceB}");
        Run("ip", $"-n {namespaceA} addr add {addressA}/24 dev {a}");
        Run("ip", $"-n {namespaceB} addr add {addressB}/24 dev {b}");
        Run("ip", $"-n {namespaceA} link set {a} up");
        Run("ip", $"-n {namespaceB} link set {b} up");
        return (a, b);
    }

    public void Dispose()
    {
        foreach (var name in _namespaces)
        {
            TryRun("ip", $"netns delete {name}");
        }
    }

    public static void Run(string file, string arguments)
    {
        var (code, error) = TryRun(file, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({code}): {error}");
        }
    }

    private static (int Code, string Error) TryRun(string file, string arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var part in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            start.ArgumentList.Add(part);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Result);
    }
}
