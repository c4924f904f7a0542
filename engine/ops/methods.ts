// Method sugar on Tensor (x.add(y).relu().sum()), PyTorch names. Each method forwards to the op
// function of the same name; nothing else lives here.
import { Tensor } from '../core/tensor.ts';
import type { DType } from '../core/dtype.ts';
import * as B from './binary.ts';
import * as U from './unary.ts';
import * as R from './reduce.ts';
import * as V from './views.ts';
import * as M from './matmul.ts';
import { backward } from '../autograd/backward.ts';

type Operand = B.Operand;

export interface TensorMethods {
  add(o: Operand): Tensor;
  sub(o: Operand): Tensor;
  mul(o: Operand): Tensor;
  div(o: Operand): Tensor;
  pow(o: Operand): Tensor;
  maximum(o: Operand): Tensor;
  minimum(o: Operand): Tensor;
  eq(o: Operand): Tensor;
  ne(o: Operand): Tensor;
  lt(o: Operand): Tensor;
  le(o: Operand): Tensor;
  gt(o: Operand): Tensor;
  ge(o: Operand): Tensor;
  neg(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  rsqrt(): Tensor;
  abs(): Tensor;
  square(): Tensor;
  relu(): Tensor;
  relu6(): Tensor;
  leakyRelu(slope?: number): Tensor;
  sigmoid(): Tensor;
  tanh(): Tensor;
  erf(): Tensor;
  gelu(approximate?: 'none' | 'tanh'): Tensor;
  clamp(min?: number | null, max?: number | null): Tensor;
  to(dtype: DType): Tensor;
  sum(dim?: R.Dims, keepdim?: boolean): Tensor;
  mean(dim?: R.Dims, keepdim?: boolean): Tensor;
  max(dim?: R.Dims, keepdim?: boolean): Tensor;
  min(dim?: R.Dims, keepdim?: boolean): Tensor;
  argmax(dim?: number | null, keepdim?: boolean): Tensor;
  argmin(dim?: number | null, keepdim?: boolean): Tensor;
  var(dim?: R.Dims, unbiased?: boolean, keepdim?: boolean): Tensor;
  std(dim?: R.Dims, unbiased?: boolean, keepdim?: boolean): Tensor;
  norm(dim?: R.Dims, keepdim?: boolean): Tensor;
  matmul(o: Tensor): Tensor;
  reshape(...shape: number[] | [number[]]): Tensor;
  view(...shape: number[] | [number[]]): Tensor;
  flatten(startDim?: number, endDim?: number): Tensor;
  permute(...dims: number[] | [number[]]): Tensor;
  transpose(dim0?: number, dim1?: number): Tensor;
  /** Matrix transpose of the last two dims (torch's .mT / .t() for 2-D). */
  get T(): Tensor;
  expand(...shape: number[] | [number[]]): Tensor;
  unsqueeze(dim: number): Tensor;
  squeeze(dim?: number | number[]): Tensor;
  slice(dim: number, start?: number, end?: number, step?: number): Tensor;
  narrow(dim: number, start: number, length: number): Tensor;
  select(dim: number, index: number): Tensor;
  contiguous(): Tensor;
  clone(): Tensor;
  detach(): Tensor;
  backward(gradient?: Tensor | null, opts?: { retainGraph?: boolean }): void;
}

const shapeArgs = (a: number[] | [number[]]): number[] => (Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]));
const P = Tensor.prototype as unknown as Record<string, unknown>;
const methods: Record<string, (this: Tensor, ...a: any[]) => unknown> = {
  add(o) {
    return B.add(this, o);
  },
  sub(o) {
    return B.sub(this, o);
  },
  mul(o) {
    return B.mul(this, o);
  },
  div(o) {
    return B.div(this, o);
  },
  pow(o) {
    return B.pow(this, o);
  },
  maximum(o) {
    return B.maximum(this, o);
  },
  minimum(o) {
    return B.minimum(this, o);
  },
  eq(o) {
    return B.eq(this, o);
  },
  ne(o) {
    return B.ne(this, o);
  },
  lt(o) {
    return B.lt(this, o);
  },
  le(o) {
    return B.le(this, o);
  },
  gt(o) {
    return B.gt(this, o);
  },
  ge(o) {
    return B.ge(this, o);
  },
  neg() {
    return U.neg(this);
  },
  exp() {
    return U.exp(this);
  },
  log() {
    return U.log(this);
  },
  sqrt() {
    return U.sqrt(this);
  },
  rsqrt() {
    return U.rsqrt(this);
  },
  abs() {
    return U.abs(this);
  },
  square() {
    return U.square(this);
  },
  relu() {
    return U.relu(this);
  },
  relu6() {
    return U.relu6(this);
  },
  leakyRelu(s) {
    return U.leakyRelu(this, s);
  },
  sigmoid() {
    return U.sigmoid(this);
  },
  tanh() {
    return U.tanh(this);
  },
  erf() {
    return U.erf(this);
  },
  gelu(approximate: 'none' | 'tanh' = 'none') {
    return U.gelu(this, approximate);
  },
  clamp(lo, hi) {
    return U.clamp(this, lo, hi);
  },
  to(d) {
    return U.cast(this, d);
  },
  sum(d, k) {
    return R.sum(this, d, k);
  },
  mean(d, k) {
    return R.mean(this, d, k);
  },
  max(d, k) {
    return R.max(this, d, k);
  },
  min(d, k) {
    return R.min(this, d, k);
  },
  argmax(d, k) {
    return R.argmax(this, d, k);
  },
  argmin(d, k) {
    return R.argmin(this, d, k);
  },
  var(d, u, k) {
    return R.variance(this, d, u, k);
  },
  std(d, u, k) {
    return R.std(this, d, u, k);
  },
  norm(d, k) {
    return R.norm(this, d, k);
  },
  matmul(o) {
    return M.matmul(this, o);
  },
  reshape(...s) {
    return V.reshape(this, shapeArgs(s));
  },
  view(...s) {
    return V.view(this, shapeArgs(s));
  },
  flatten(s, e) {
    return V.flatten(this, s, e);
  },
  permute(...d) {
    return V.permute(this, shapeArgs(d));
  },
  transpose(a, b) {
    return V.transpose(this, a, b);
  },
  expand(...s) {
    return V.expand(this, shapeArgs(s));
  },
  unsqueeze(d) {
    return V.unsqueeze(this, d);
  },
  squeeze(d) {
    return V.squeeze(this, d);
  },
  slice(d, s, e, st) {
    return V.slice(this, d, s, e, st);
  },
  narrow(d, s, l) {
    return V.narrow(this, d, s, l);
  },
  select(d, i) {
    return V.select(this, d, i);
  },
  contiguous() {
    return V.contiguous(this);
  },
  clone() {
    return V.clone(this);
  },
  detach() {
    return V.detach(this);
  },
  backward(g, o) {
    backward(this, g, o);
  },
};
for (const [k, f] of Object.entries(methods)) P[k] = f;
Object.defineProperty(Tensor.prototype, 'T', {
  get(this: Tensor) {
    return V.transpose(this, -2, -1);
  },
});
