using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IngestCluster.Node.Tests.Egress;

/// <summary>
/// A dedicated thread that entered a network namespace with <c>setns</c> and stays there: sockets created by
/// work passed to <see cref="Run{T}"/> belong to that namespace (and keep it when used from other threads).
/// </summary>
internal sealed partial class NamespaceThread : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    public NamespaceThread(string namespaceName)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/var/run/netns/{namespaceName}");
                if (SetNs(ns.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({namespaceName}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                entered.SetResult();
            }
            catch (Exception e)
            {
                entered.SetException(e);
                return;
            }
            foreach (var action in _work.GetConsumingEnumerable())
            {
                action();
            }
        })
        {
            IsBackground = true,
            Name = $"netns-{namespaceName}",
        };
        _thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public T Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(IntPtr fd, int nsType);
}

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
