using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// A dedicated thread that entered a network namespace with <c>setns</c> and stays there: sockets created by
/// work passed to <see cref="Run{T}"/> belong to that namespace (and keep it when used from other threads).
/// </summary>
public sealed partial class NamespaceThread : IDisposable
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
