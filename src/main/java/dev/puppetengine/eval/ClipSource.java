package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.io.image.SquareCrop;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;
import dev.puppetengine.train.data.DatasetManifest;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The validation clips (index >= trainCount) of a clip dataset: frame 0 is the input, the clip's chosen drags
 * (pixel tracks, one point per frame) become trajectories, all frames are the ground truth.
 */
public final class ClipSource implements ExampleSource {
    private final ClipDataset dataset;

    public ClipSource(Path dir) throws IOException {
        this.dataset = ClipDataset.open(dir);
    }

    @Override
    public List<String> names() {
        List<String> n = new ArrayList<>();
        for (int i = dataset.trainCount(); i < dataset.count(); i++) n.add(String.format(Locale.ROOT, "%06d", i));
        return n;
    }

    @Override
    public ObjectNode identity() {
        DatasetManifest m = dataset.manifest();
        ObjectNode id = JsonNodeFactory.instance.objectNode().put("generator", m.generator()).put("seed", m.seed());
        id.set("parameters", m.parameters());
        return id.put("clips", dataset.count()).put("frames", dataset.frames()).put("width", dataset.width()).put("height", dataset.height());
    }

    @Override
    public Example load(String name) throws IOException {
        ClipSample s = dataset.read(Integer.parseInt(name));
        SquareCrop crop = SquareCrop.centred(s.width(), s.height());
        List<DragPath> drags = new ArrayList<>();
        for (double[] track : s.drags().drags()) {
            double[] xs = new double[s.frames()], ys = new double[s.frames()];
            for (int f = 0; f < s.frames(); f++) {
                double[] p = crop.normalise(track[2 * f], track[2 * f + 1]);
                xs[f] = p[0];
                ys[f] = p[1];
            }
            drags.add(new DragPath(xs, ys));
        }
        List<RgbImage> frames = new ArrayList<>();
        for (int f = 0; f < s.frames(); f++) frames.add(s.frame(f));
        return new Example(name, frames.get(0), drags, frames);
    }
}
