package dev.puppetengine.train.data.synthetic;

/** A scene part: one id in the id mask (1..255; 0 is the background), moving or static over the clip. */
public record Part(int id, String name, boolean moving) {}
