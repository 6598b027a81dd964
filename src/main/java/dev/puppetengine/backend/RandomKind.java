package dev.puppetengine.backend;

/** Distributions of the Philox streams ({@code dev.puppetengine.random.Philox}). */
public enum RandomKind { UNIFORM, NORMAL }
