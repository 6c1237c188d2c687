using System.Reflection;
using System.Reflection.Emit;

namespace Distil.Pipeline.Tests;

/// <summary>
/// A folder is a layer: inside one assembly no two folder namespaces may use each other, directly or through a
/// third. Uses are read from the compiled assemblies (signatures and method bodies), so an implicit use of a parent
/// namespace's type counts as much as a <c>using</c>.
/// </summary>
public sealed class NamespaceLayeringTests
{
    public static TheoryData<string> Assemblies() =>
        ["Distil.Seeding", "Distil.Pipeline", "Distil.Engine", "Distil.Judge", "Distil.Hub", "Distil.Steps", "Distil.Server", "distil"];

    /// <summary>Cycles known and still to break (docs/architecture.md), each as its namespaces in order. Nothing may
    /// join this list: a new cycle fails the test.</summary>
    private static readonly string[] StillToBreak = [];

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Folder_namespaces_form_no_cycle(string assembly)
    {
        var uses = NamespaceUses.Of(Assembly.Load(assembly));
        var cycles = uses.Cycles().Where(c => !StillToBreak.Contains(string.Join(" ", c.Namespaces))).ToList();
        Assert.True(cycles.Count == 0, $"namespace cycles in {assembly}:\n" + string.Join("\n\n", cycles.Select(c => c.Uses)));
    }

    [Fact]
    public void A_cycle_is_found_when_two_namespaces_use_each_other()
    {
        // The check itself: this test assembly has one on purpose (Cycle.Left <-> Cycle.Right).
        var cycles = NamespaceUses.Of(typeof(NamespaceLayeringTests).Assembly).Cycles();
        var cycle = Assert.Single(cycles, c => c.Namespaces.Contains("Distil.Pipeline.Tests.Cycle.Left"));
        Assert.Equal(new[] { "Distil.Pipeline.Tests.Cycle.Left", "Distil.Pipeline.Tests.Cycle.Right" }, cycle.Namespaces);
        Assert.Contains("LeftSide Value calls Back: RightSide", cycle.Uses, StringComparison.Ordinal);
    }
}

/// <summary>Which namespace of an assembly uses which, with one example use per pair for the failure message.</summary>
internal sealed class NamespaceUses
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private readonly Assembly _assembly;
    private readonly Dictionary<(string From, string To), string> _examples = [];

    private NamespaceUses(Assembly assembly) => _assembly = assembly;

    public static NamespaceUses Of(Assembly assembly)
    {
        var uses = new NamespaceUses(assembly);
        foreach (var type in assembly.GetTypes())
        {
            uses.Scan(type);
        }

        return uses;
    }

    /// <summary>Each group of namespaces that reach each other, with its uses ("A -> B (example)").</summary>
    public List<(List<string> Namespaces, string Uses)> Cycles()
    {
        var names = _examples.Keys.SelectMany(k => new[] { k.From, k.To }).Distinct().Order(StringComparer.Ordinal).ToList();
        var reach = names.ToDictionary(n => n, n => Reachable(n));
        var cycles = new List<(List<string> Namespaces, string Uses)>();
        var seen = new HashSet<string>();
        foreach (var name in names.Where(n => !seen.Contains(n)))
        {
            var group = names.Where(other => other == name || (reach[name].Contains(other) && reach[other].Contains(name))).ToList();
            seen.UnionWith(group);
            if (group.Count > 1)
            {
                cycles.Add((group, string.Join("\n", _examples
                    .Where(e => group.Contains(e.Key.From) && group.Contains(e.Key.To))
                    .Select(e => $"  {e.Key.From} -> {e.Key.To} ({e.Value})"))));
            }
        }

        return cycles;
    }

    private HashSet<string> Reachable(string from)
    {
        var reached = new HashSet<string>();
        var pending = new Stack<string>([from]);
        while (pending.TryPop(out var current))
        {
            foreach (var next in _examples.Keys.Where(k => k.From == current).Select(k => k.To))
            {
                if (reached.Add(next))
                {
                    pending.Push(next);
                }
            }
        }

        return reached;
    }

    private void Scan(Type type)
    {
        var from = type.Namespace;
        if (from is null)
        {
            return;
        }

        void Use(Type? used, string how) => Record(type, from, used, how);
        Use(type.BaseType, "base type");
        foreach (var face in type.GetInterfaces())
        {
            Use(face, "interface");
        }

        foreach (var field in type.GetFields(Declared))
        {
            Use(field.FieldType, $"field {field.Name}");
        }

        foreach (var property in type.GetProperties(Declared))
        {
            Use(property.PropertyType, $"property {property.Name}");
        }

        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
            {
                Use(info.ReturnType, $"{method.Name} returns");
            }

            foreach (var parameter in method.GetParameters())
            {
                Use(parameter.ParameterType, $"{method.Name} takes");
            }

            foreach (var member in BodyMembers(method))
            {
                switch (member)
                {
                    case Type used:
                        Use(used, $"{method.Name} names");
                        break;
                    case MethodBase called:
                        Use(called.DeclaringType, $"{method.Name} calls {called.Name}");
                        foreach (var argument in called.IsGenericMethod ? called.GetGenericArguments() : [])
                        {
                            Use(argument, $"{method.Name} calls {called.Name}");
                        }

                        break;
                    case FieldInfo field:
                        Use(field.DeclaringType, $"{method.Name} reads {field.Name}");
                        break;
                }
            }
        }
    }

    private void Record(Type user, string from, Type? used, string how)
    {
        if (used is null)
        {
            return;
        }

        if (used.HasElementType)
        {
            Record(user, from, used.GetElementType(), how);
            return;
        }

        if (used.IsGenericType && !used.IsGenericTypeDefinition)
        {
            foreach (var argument in used.GetGenericArguments())
            {
                Record(user, from, argument, how);
            }
        }

        if (used.IsGenericParameter || used.Assembly != _assembly || used.Namespace is not { } to || to == from)
        {
            return;
        }

        _examples.TryAdd((from, to), $"{user.Name} {how}: {used.Name}");
    }

    /// <summary>The types, methods and fields a method body refers to, decoded from its IL.</summary>
    private static IEnumerable<MemberInfo> BodyMembers(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var typeArguments = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var i = 0;
        while (i < il.Length)
        {
            var value = il[i] == 0xFE ? unchecked((short)(0xFE00 | il[i + 1])) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var operand = OpCodesByValue[value].OperandType;
            if (operand is OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType)
            {
                var member = Resolve(method.Module, BitConverter.ToInt32(il, i), typeArguments, methodArguments);
                if (member is not null)
                {
                    yield return member;
                }
            }

            i += operand switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, i)),
                _ => 4,
            };
        }
    }

    private static MemberInfo? Resolve(Module module, int token, Type[]? typeArguments, Type[]? methodArguments)
    {
        try
        {
            return module.ResolveMember(token, typeArguments, methodArguments);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
