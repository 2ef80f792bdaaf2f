// The ES5 build of jsonata ships without its own declaration; it has the same API as the main one.
declare module 'jsonata/jsonata-es5.js' {
  import jsonata from 'jsonata';
  export default jsonata;
}
