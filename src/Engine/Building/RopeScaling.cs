namespace Distil.Engine.Building;

/// <summary>Llama 3.1 "llama3" rope scaling (config.json rope_scaling with rope_type llama3).</summary>
public sealed record RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings)
{
    /// <summary>Inverse rotary frequencies for one head: theta^(-2i/d), with low frequencies slowed down by
    /// <paramref name="scaling"/>'s factor and a smooth ramp between the two wavelength bounds.</summary>
    public static float[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        var result = new float[headDim / 2];
        for (var i = 0; i < result.Length; i++)
        {
            var inv = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            if (scaling is not null)
            {
                var lowWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                var highWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                var wavelength = 2 * Math.PI / inv;
                if (wavelength > lowWavelength)
                {
                    inv /= scaling.Factor;
                }
                else if (wavelength >= highWavelength)
                {
                    var smooth = (scaling.OriginalMaxPositionEmbeddings / wavelength - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    inv = (1 - smooth) * inv / scaling.Factor + smooth * inv;
                }
            }

            result[i] = (float)inv;
        }

        return result;
    }
}
